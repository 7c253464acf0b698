"""Shared fixtures: real workbooks, and a fresh database on SQLite and on PostgreSQL.

Storage tests take the ``db_url`` fixture and run twice: on a SQLite file, and on the
PostgreSQL server named by TRACKER287G_TEST_PG (default: the local server).  When that server
cannot be reached the PostgreSQL run is skipped with the reason, unless TRACKER287G_REQUIRE_PG=1
(as in .ci/run), where it fails instead.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.database import create_database_engine, migrate
from sqlalchemy.engine import make_url

FIXTURES = Path(__file__).parent / "fixtures"
WORKBOOKS = FIXTURES / "ice-287g"
PG_URL = os.environ.get("TRACKER287G_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("TRACKER287G_REQUIRE_PG") == "1"


def workbook(name: str) -> Path:
    """A real ICE workbook from the fixtures, by file name."""
    for folder in ("participating", "pending"):
        path = WORKBOOKS / folder / name
        if path.exists():
            return path
    raise FileNotFoundError(name)


def all_workbooks() -> list[Path]:
    return sorted(WORKBOOKS.glob("*/*.xlsx"))


_pg_problem: str | None = None
_pg_checked = False


def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (checked once)."""
    global _pg_checked, _pg_problem
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
        except Exception as error:  # any failure to connect means: not reachable
            _pg_problem = f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string()}: {error}"
    return _pg_problem


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A URL to an empty database of each kind; each test gets its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    problem = _postgres_problem()
    if problem:
        if REQUIRE_PG:
            pytest.fail(problem + " (TRACKER287G_REQUIRE_PG=1 requires it)")
        pytest.skip(problem)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url):
    """A migrated engine on each kind of database (see ``db_url``)."""
    engine = create_database_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()
