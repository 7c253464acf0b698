"""Notifications against real receivers on 127.0.0.1: the JSON webhook (retries, backoff, a
redirect refused), the ledger (two `notify` processes at once send each event once; a new
target starts from now), and addresses shown without their secrets."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publish.changes import change_rows
from publish.notify import NotificationSettings, notify, notify_after_run, register_targets
from publish.targets import mask_url
from scheduler.cli import main
from scheduler.config import ConfigError, load_config
from storage.models import NotificationSent, NotificationTarget
from tests.commands import run
from tests.files import ROOT, workbook
from tests.publish.receivers import HttpReceiver

SECRET = "s3cr3t-token-value"
FILES = ("participatingAgencies-20250221214937.xlsx", "participatingAgencies-20250226183301.xlsx",
         "participatingAgencies-20250318045215.xlsx")


def backfill(db_url: str, *names: str) -> None:
    result = run(db_url, "backfill", *(str(workbook(n)) for n in names))
    assert result.exit_code == 0, result.output


@pytest.fixture
def events(db_url, engine):
    """Three real participating lists: a first snapshot, then additions, removals and a rename."""
    backfill(db_url, *FILES)
    return engine


def settings(**overrides) -> NotificationSettings:
    # every status: these tests are about delivery, and most events of three lists are still provisional
    values = {"webhook_backoff_seconds": 0.01, "backoff_seconds": 0.01, "webhook_start": "all", "statuses": (),
              **overrides}
    return NotificationSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def expected_ids(engine, config: NotificationSettings, after: int = 0) -> list[int]:
    with Session(engine) as session:
        return [r["id"] for r in change_rows(session) if r["id"] > after and config.filters.wants(r)]


@pytest.fixture
def receiver():
    server = HttpReceiver()
    yield server
    server.close()


def test_a_webhook_that_fails_twice_gets_everything_once(events, monkeypatch, caplog):
    server = HttpReceiver(answer=lambda n: (500 if n < 2 else 200, {}))
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    waits: list[float] = []
    config = settings(webhook_url=server.url(), webhook_token_env="HOOK_TOKEN")
    try:
        with caplog.at_level(logging.DEBUG):
            [result] = notify(events, config, sleep=waits.append)
        [again] = notify(events, config, sleep=waits.append)             # the ledger: nothing twice
    finally:
        server.close()
    wanted_ids = expected_ids(events, config)
    assert (result.channel, result.sent, result.error) == ("webhook", len(wanted_ids), None)
    assert server.statuses == [500, 500, 200] and waits == [0.01, 0.02]   # backoff doubles
    last = server.requests[-1]
    assert last.headers["authorization"] == f"Bearer {SECRET}"
    body = last.json()
    assert body["schema"] == "tracker287g.notification/1"
    assert [c["id"] for c in body["changes"]] == wanted_ids
    # The 2025-03-18 list re-spells four agencies (AK "Department of Corrections" → "Alaska
    # Department of Corrections", FL "Gulf County BOCC" and "Pasco County BOCC" spelled out, TX
    # "Office of the Attorney General" → "Texas Office of the Attorney General"): each continues
    # one agreement (identity tier 2, an agreement.changed, not a kind notified by default), so
    # none reaches the receiver as a removal or a rename.  The two removals sent: Gulf County
    # BOCC's Task Force Model agreement (its Warrant Service Officer one stays) and Douglas
    # County (NV) Sheriff's Office.
    assert Counter(c["kind"] for c in body["changes"]) == {
        "agreement.added": 211, "agreement.removed": 2, "list.columns_changed": 1}
    assert {c["subject_key"] for c in body["changes"] if c["kind"] == "agreement.removed"} == {
        "FL|GULF COUNTY BOCC|TFM", "NV|DOUGLAS COUNTY SHERIFFS OFFICE|TFM"}
    assert SECRET not in caplog.text and "attempt 2 of 3 failed: HTTP 500" in caplog.text
    assert (again.sent, again.skipped) == (0, "nothing new to send") and len(server.requests) == 3


def test_a_failing_webhook_backs_off_between_runs_and_notify_tries_at_once(events):
    server = HttpReceiver(answer=lambda n: (503, {}))
    config = settings(webhook_url=server.url(), webhook_attempts=2)
    try:
        [failed] = notify(events, config, sleep=lambda s: None)
        [waiting] = notify(events, config, sleep=lambda s: None)           # the service's next run
        [forced] = notify(events, config, force=True, sleep=lambda s: None)   # `tracker287g notify`
    finally:
        server.close()
    assert failed.sent == 0 and "HTTP 503 after 2 attempt(s)" in failed.error
    assert waiting.skipped.startswith("backing off after 1 failed deliveries, until ")
    assert forced.error and len(server.requests) == 4
    with Session(events) as session:   # a failed delivery leaves no claim behind
        assert session.scalar(select(func.count()).select_from(NotificationSent)) == 0
    notify_after_run(events, config)   # the service's call: a closed receiver raises nothing


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(events, monkeypatch):
    """urllib would turn the POST into a GET to the new address, with the bearer token."""
    elsewhere = HttpReceiver()
    server = HttpReceiver(answer=lambda n: (302, {"Location": elsewhere.url("/stolen")}))
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    config = settings(webhook_url=server.url(), webhook_token_env="HOOK_TOKEN")
    try:
        [result] = notify(events, config, sleep=lambda s: None)
    finally:
        server.close()
        elsewhere.close()
    assert result.sent == 0 and "HTTP 302 (a redirect, not followed" in result.error
    assert len(server.requests) == 1 and elsewhere.requests == []      # not retried, not followed
    with Session(events) as session:
        assert session.scalar(select(func.count()).select_from(NotificationSent)) == 0


def test_a_new_target_sends_nothing_of_the_history_until_a_new_change(db_url, engine, receiver):
    backfill(db_url, *FILES[:2])
    config = settings(webhook_url=receiver.url(), webhook_start="now")
    register_targets(engine, config)                    # what the service does when it starts
    with Session(engine) as session:
        [target] = session.scalars(select(NotificationTarget)).all()
        assert (target.name, target.start_after_event_id) == ("webhook", max(r["id"] for r in change_rows(session)))
    [first] = notify(engine, config)
    assert (first.sent, first.skipped, receiver.requests) == (0, "nothing new to send", [])
    with Session(engine) as session:
        history = max(r["id"] for r in change_rows(session))
    backfill(db_url, FILES[2])
    [second] = notify(engine, config)
    new_ids = expected_ids(engine, config, after=history)
    assert new_ids and second.sent == len(new_ids)
    [request] = receiver.requests
    assert [c["id"] for c in request.json()["changes"]] == new_ids
    assert {c["occurred_on"] for c in request.json()["changes"]} == {"2025-03-18"}


def test_two_notify_processes_at_once_send_each_event_once(db_url, engine, tmp_path):
    """The service and a manual `notify` on one database: each claims before it sends."""
    backfill(db_url, *FILES)
    server = HttpReceiver(delay=1.0)   # a slow receiver: the first delivery is in flight while the other chooses
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        "[notifications]\n"
        f'webhook_url = "{server.url()}"\nwebhook_start = "all"\nstatuses = []\n'
        f'targets = [{{ name = "desk-json", url = "json://127.0.0.1:{server.port}/json", start = "all" }}]\n',
        encoding="utf-8")
    environment = {**os.environ, "TRACKER287G_DB": db_url, "TRACKER287G_CONFIG": str(config_file)}
    command = [sys.executable, "-m", "scheduler.cli", "notify"]
    try:
        processes = [subprocess.Popen(command, env=environment, cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=120)[0] for p in processes]
    finally:
        server.close()
    assert [p.returncode for p in processes] == [0, 0], outputs
    webhook = [r for r in server.requests if r.path == "/hook"]
    sent_ids = Counter(c["id"] for r in webhook for c in r.json()["changes"])
    wanted = expected_ids(engine, load_config(config_file, environ={}).notifications)
    assert sorted(sent_ids) == wanted and set(sent_ids.values()) == {1}
    assert len([r for r in server.requests if r.path == "/json"]) == 1
    # each target: one process sent, the other found every event claimed
    assert sum(output.count("nothing new to send") for output in outputs) == 2, outputs
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NotificationSent)
                              .where(NotificationSent.channel == "webhook")) == len(wanted)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:hunter2pass@hooks.example.org/hook", "https://user:****@hooks.example.org/hook"),
    ("https://hooks.example.org/in?token=abc123&channel=desk", "https://hooks.example.org/in?token=****&channel=****"),
    ("https://hooks.slack.com/services/T0123ABCD/B0123ABCD/XXXXyyyyZZZZ1234abcd",
     "https://hooks.slack.com/services/****/****/****"),
    ("https://discord.com/api/webhooks/1234567890/abcDEF_ghiJKL-mnoPQRstuVWX",
     "https://discord.com/api/webhooks/****/****"),
    ("slack://T0123ABCD/B0123ABCD/XXXXyyyyZZZZ1234abcd", "slack://****/****/****"),
    ("ntfy://ntfy.example.org/tracker287g-alerts", "ntfy://ntfy.example.org/****"),   # a topic is a password
    ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/hook"),
    ("mailtos://desk:${SMTP_PASSWORD}@smtp.example.org?to=desk@example.org",
     "mailtos://desk:****@smtp.example.org?to=****"),
    ("mmost://chat.example.org/${MATTERMOST_TOKEN}", "mmost://chat.example.org/${MATTERMOST_TOKEN}"),
    ("tgram://123456789:AAbbCCdd/1234", "****"),       # not a URL Python can parse: masked whole
])
def test_addresses_are_shown_without_their_secrets(url, shown):
    assert mask_url(url) == shown


def test_config_show_masks_every_address(tmp_path, monkeypatch):
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        "[notifications]\n"
        f'webhook_url = "https://hooks.example.org/in?token={SECRET}"\n'
        f'targets = ["slack://T0123ABCD/B0123ABCD/{SECRET}",\n'
        f'           {{ name = "desk", url = "mailtos://desk:{SECRET}@smtp.example.org?to=desk@example.org" }},\n'
        '           { name = "chat", url = "mmost://chat.example.org/${MATTERMOST_TOKEN}" }]\n', encoding="utf-8")
    monkeypatch.setenv("MATTERMOST_TOKEN", "mattermost-token-value")
    for fmt in ("toml", "json"):
        result = CliRunner().invoke(main, ["--config", str(config_file), "config", "show", "--format", fmt])
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output and "mattermost-token-value" not in result.output
        assert "${MATTERMOST_TOKEN}" in result.output and "hooks.example.org" in result.output


def test_the_old_e_mail_keys_point_to_a_mailto_target(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text('[notifications]\nsmtp_host = "smtp.example.org"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"smtp_host: e-mail is now a target: .*mailtos://"):
        load_config(config_file, environ={})


@pytest.mark.parametrize(("entry", "problem"), [
    ('"not a url"', "is not a URL"),
    ('{ url = "json://x", digest = "hourly" }', "digest 'hourly' is not one of"),
    ('{ url = "json://x", statuses = ["maybe"] }', "status 'maybe' is not one of provisional, confirmed, reverted"),
    ('{ url = "json://x", url_env = "X" }', "give url or url_env"),
    ('{ name = "webhook", url = "json://x" }', "belongs to webhook_url"),
    ('{ url = "json://x", colour = "red" }', "unknown key 'colour'"),
])
def test_a_bad_target_is_a_configuration_error_naming_it(tmp_path, entry, problem):
    config_file = tmp_path / "config.toml"
    config_file.write_text(f"[notifications]\ntargets = [{entry}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^\[notifications\] ") as raised:
        load_config(config_file, environ={})
    assert problem in str(raised.value)


def test_the_example_configuration_loads():
    config = load_config(Path(ROOT / "deploy" / "config.example.toml"), environ={})
    assert config.notifications.webhook_url == ""
    assert json.dumps(config.raw["notifications"])   # plain TOML values


def test_notify_test_webhook_sends_an_empty_test_document(db_url, engine, receiver, monkeypatch, tmp_path):
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[notifications]\nwebhook_url = "{receiver.url()}?key={SECRET}"\n'
                           'webhook_token_env = "HOOK_TOKEN"\n', encoding="utf-8")
    result = run(db_url, "--config", str(config_file), "notify", "--test", "webhook")
    assert result.exit_code == 0, result.output
    assert result.output == f"webhook ({receiver.url()}?key=****): test message sent\n"
    [request] = receiver.requests
    assert request.json() == {"schema": "tracker287g.notification/1", "test": True, "changes": []}
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NotificationTarget)) == 0
