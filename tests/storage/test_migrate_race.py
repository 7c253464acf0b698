"""Two processes opening one fresh database at once must both end up migrated.

The probe saw one of two replicas started together crash with ``UniqueViolation ...
pg_type_typname_nsp_index`` on ``CREATE TABLE alembic_version``: both ran the upgrade.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from sqlalchemy import inspect

from storage.database import create_database_engine, migrate, open_database
from tests.files import ROOT


def test_threads_migrating_one_fresh_database_at_once_all_succeed(db_url):
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_it() -> None:
        engine = create_database_engine(db_url)
        try:
            start.wait()
            migrate(engine)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = open_database(db_url)
    assert "snapshot" in inspect(engine).get_table_names()
    engine.dispose()


def test_two_snapshots_commands_started_together_on_a_fresh_database_both_work(db_url):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "scheduler.cli", "--db", db_url, "snapshots", "--format", "json"]
    processes = [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err.decode()[-2000:] for _, err in results]
