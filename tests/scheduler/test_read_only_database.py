"""A database this user cannot write can still be read, and read commands never write.

The probe found a read-only SQLite database could not even be read: every command switched on
WAL and tried the migrations at open.  Now the commands that only read open the database without
writing (no pragma that writes, no migration, no journal file); those that write refuse it in
one line before trying anything.

The tests run as root here, and file modes do not stop root: the commands on the read-only file
run in a child process as an unprivileged user (``setpriv``), or in-process when the tests
themselves are not root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from storage.database import (
    _alembic_config,
    create_database_engine,
    current_revision,
    open_database,
    open_database_for_reading,
)
from tests.commands import run
from tests.files import ROOT, workbook

NOBODY = 65534
FIRST, SECOND, THIRD = ("participatingAgencies05292025am.xlsx", "pendingAgencies05292025am.xlsx",
                        "participatingAgencies09222025am.xlsx")


def _unprivileged_command() -> tuple[list[str], dict[str, str]] | str:
    """How to run ``python -m scheduler.cli`` as user 65534, or why it cannot be done here."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return "setpriv (util-linux) is not installed"
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    # The interpreter of the tests may live where that user cannot go (a pyenv under /root); the
    # system's interpreter of the same version, given this environment's packages, runs the same code.
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    paths = sysconfig.get_paths()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
           "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(ROOT), paths["purelib"], paths["platlib"]])),
           "TRACKER287G_CONTACT": "tests@example.org"}
    for python in candidates:
        if not Path(python).exists():
            continue
        probe = subprocess.run([*prefix, python, "-c", "import scheduler.cli"], env=env, capture_output=True,
                               timeout=120, check=False)
        if probe.returncode == 0:
            return [*prefix, python, "-m", "scheduler.cli"], env
    return f"no Python {version} that user {NOBODY} can run with this environment's packages"


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every user can reach (pytest's tmp_path is private to its user)."""
    folder = Path(tempfile.mkdtemp(prefix="tracker287g-ro-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def _listing(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_read_only_sqlite_database_is_read_and_never_written(shared_folder):
    database_folder = shared_folder / "db"
    database_folder.mkdir()
    database = database_folder / "tracker.sqlite"
    assert run(str(database), "backfill", str(workbook(FIRST)), str(workbook(SECOND))).exit_code == 0
    # what the same reads give where the database can be written
    expected = {name: json.loads(run(str(database), name, "--format", "json").output)
                for name in ("changes", "snapshots", "metrics")}

    database.chmod(0o444)
    database_folder.chmod(0o555)
    before = _listing(database_folder)
    outputs = shared_folder / "out"
    outputs.mkdir(mode=0o777)
    outputs.chmod(0o777)

    if os.geteuid() == 0:
        how = _unprivileged_command()
        if isinstance(how, str):
            pytest.skip(f"cannot run the commands as a user the file modes apply to: {how}")
        prefix, env = how

        def tracker(*args: str) -> tuple[int, str, str]:
            done = subprocess.run([*prefix, "--db", str(database), *args], env=env, cwd=shared_folder,
                                  capture_output=True, text=True, timeout=300, check=False)
            return done.returncode, done.stdout, done.stderr
    else:
        def tracker(*args: str) -> tuple[int, str, str]:
            result = run(str(database), *args)
            return result.exit_code, result.stdout, result.stderr

    for name in ("changes", "snapshots", "metrics"):
        code, out, err = tracker(name, "--format", "json")
        assert code == 0, err
        assert json.loads(out) == expected[name]
    code, out, err = tracker("status", "--format", "json")
    assert code == 0, err
    assert {s["source"] for s in json.loads(out)["sources"]} >= {"ice_287g"}
    code, out, err = tracker("export", "--out", str(outputs / "export"))
    assert code == 0, err
    assert (outputs / "export" / "datapackage.json").exists()
    code, out, err = tracker("report", "--out", str(outputs / "site"))
    assert code == 0, err
    assert (outputs / "site" / "index.html").exists()

    # commands that write: one line, exit 1, nothing written (not even a journal file)
    for args in (("backfill", str(workbook(THIRD))), ("crawl", "--page-url", "http://127.0.0.1:9/287g"),
                 ("run",), ("rebuild", "--yes")):
        code, out, err = tracker(*args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1, (args, out, err)
        assert len(lines) == 1 and "the database is read-only" in lines[0], (args, err)
        assert "Traceback" not in out + err
    assert _listing(database_folder) == before


def test_an_immutable_database_file_is_read_and_never_written(tmp_path):
    """chattr +i stops root too, so this runs in-process."""
    database = tmp_path / "tracker.sqlite"
    assert run(str(database), "backfill", str(workbook(FIRST)), str(workbook(SECOND))).exit_code == 0
    expected = {name: json.loads(run(str(database), name, "--format", "json").output)
                for name in ("changes", "snapshots", "metrics")}
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(database)], capture_output=True, check=False).returncode:
        pytest.skip("cannot make the file immutable here (no chattr, or no CAP_LINUX_IMMUTABLE)")
    try:
        before = _listing(tmp_path)
        for name in ("changes", "snapshots", "metrics"):
            result = run(str(database), name, "--format", "json")
            assert result.exit_code == 0, result.output
            assert json.loads(result.output) == expected[name]
        result = run(str(database), "backfill", str(workbook(THIRD)))
        assert result.exit_code == 1 and "the database is read-only" in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert _listing(tmp_path) == before                   # no -wal, no -shm, the file unchanged
    finally:
        subprocess.run([chattr, "-i", str(database)], check=True)


def test_a_postgresql_role_that_may_only_select_reads_and_cannot_write(pg_url):
    assert run(pg_url, "backfill", str(workbook(FIRST)), str(workbook(SECOND))).exit_code == 0
    expected = json.loads(run(pg_url, "changes", "--format", "json").output)
    url = make_url(pg_url)
    schema = url.query["options"].split("=", 1)[1]          # the fixture's search_path
    role = "reader_" + uuid.uuid4().hex[:10]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
    reader = url.set(username=role).render_as_string(hide_password=False)
    try:
        result = run(reader, "changes", "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == expected
        for name in ("snapshots", "status", "metrics"):
            assert run(reader, name, "--format", "json").exit_code == 0
        result = run(reader, "backfill", str(workbook(THIRD)))
        assert result.exit_code == 1 and "permission denied" in result.output and "Traceback" not in result.output
        assert json.loads(run(pg_url, "changes", "--format", "json").output) == expected   # nothing written
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def _at_revision(url: str, revision: str) -> None:
    """A database whose schema stops at ``revision`` (as an older version left it)."""
    engine = create_database_engine(url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_a_read_command_never_upgrades_the_schema(db_url):
    _at_revision(db_url, "0008")
    result = run(db_url, "changes")
    assert result.exit_code == 1
    assert "schema is at revision 0008" in result.output and "run `tracker287g upgrade` first" in result.output
    assert "Traceback" not in result.output
    engine = create_database_engine(db_url)
    assert current_revision(engine) == "0008"
    engine.dispose()
    # `upgrade` (or any command that writes) upgrades it; then it reads
    result = run(db_url, "upgrade")
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert result.exit_code == 0 and result.output == f"schema at revision {head}\n"
    result = run(db_url, "changes", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)["changes"] == []
    assert run(db_url, "backfill", str(workbook(FIRST))).exit_code == 0
    result = run(db_url, "changes", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)["changes"]


def test_the_reading_engine_refuses_writes(db_url):
    open_database(db_url).dispose()
    reader = open_database_for_reading(db_url)
    try:
        with pytest.raises(DBAPIError) as refused, reader.begin() as connection:
            connection.execute(text("INSERT INTO ingest_lock (id) VALUES (99)"))
        assert "read" in str(refused.value.orig).lower()   # "readonly database" / "read-only transaction"
    finally:
        reader.dispose()


def test_a_new_database_is_still_created_by_any_first_command(tmp_path):
    database = tmp_path / "new" / "tracker.sqlite"
    result = run(str(database), "changes", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.output)["changes"] == []
    assert stat.S_ISREG(database.stat().st_mode)
