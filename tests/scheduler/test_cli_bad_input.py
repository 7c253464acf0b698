"""Bad input on the command line: a clear one-line error and an honest exit status, never a
traceback and never a silent empty answer (exit 2: usage, 1: failure)."""

from __future__ import annotations

import pytest

from tests.commands import run


@pytest.fixture(scope="module")
def db(backfill_templates, tmp_path_factory) -> str:
    """A copy of the session's backfill of the 22 real workbooks (conftest); only read here."""
    return backfill_templates.sqlite_copy(tmp_path_factory.mktemp("badinput") / "cli.sqlite")


# (case, arguments after --db, exit status, words the error must say)
CASES = [
    ("review: a huge id", ["review", "99999999999999999999", "--status", "confirmed"], 2, "range"),
    ("review: an id beyond 32 bits", ["review", "2147483648", "--status", "confirmed"], 2, "range"),
    ("serve: a port beyond 65535", ["serve", "--port", "99999"], 2, "0<=x<=65535"),
    ("report: a folder that cannot be made", ["report", "--out", "/proc/nope"], 2, "cannot create the folder /proc/nope"),
    ("feed: a file that cannot be written", ["feed", "--out", "/proc/nope/changes.atom"], 2, "cannot write /proc/nope"),
    ("crawl: not a URL", ["crawl", "--page-url", "not a url", "--contact", "t@example.org"], 2,
     "'not a url' is not an http(s) URL"),
    ("crawl: not http", ["crawl", "--page-url", "file:///etc/passwd", "--contact", "t@example.org"], 2,
     "is not an http(s) URL"),
    ("changes: unknown state", ["changes", "--state", "ZZ"], 2, "'ZZ' is not a state code; one of: AK, AL"),
    ("feed: unknown state", ["feed", "--out", "/tmp/x.atom", "--state", "ZZ"], 2, "not a state code"),
    ("changes: unknown kind", ["changes", "--kind", "agreement.deleted"], 2,
     "unknown kind 'agreement.deleted'; one of: agreement.added"),
    ("changes: unknown prefix", ["changes", "--kind", "nothing."], 2, "unknown kind 'nothing.'"),
    ("review: unknown kind", ["review", "--kind", "agreement.deleted"], 2, "unknown kind"),
]


@pytest.mark.parametrize(("args", "code", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(db, args, code, says):
    result = run(db, *args)
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception     # not a traceback
    assert says in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("args", [["changes", "--state", "tx"], ["changes", "--kind", "agreement."],
                                  ["changes", "--kind", "source.failed"], ["changes", "--state", "GU"]])
def test_valid_filters_still_pass(db, args):
    assert run(db, *args).exit_code == 0


@pytest.mark.parametrize("url", ["::::://", "postgresql://[::1"])
def test_an_unreadable_database_url_is_a_usage_error(url):
    result = run(url, "snapshots")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "is not a database URL or a SQLite file path" in result.output


def test_an_invalid_config_is_not_ignored_beside_db(db, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[crawler]\ncontcat = 1\n")
    result = run(db, "--config", str(bad), "snapshots")
    assert result.exit_code == 1 and "contcat" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[crawler\n")
    assert run(db, "--config", str(broken), "changes").exit_code == 1


def test_feed_makes_a_missing_folder(db, tmp_path):
    out = tmp_path / "not" / "yet" / "changes.atom"
    result = run(db, "feed", "--out", str(out))
    assert result.exit_code == 0 and out.read_bytes().startswith(b"<?xml")
