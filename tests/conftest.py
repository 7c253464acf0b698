"""Shared fixtures: fresh databases on SQLite and PostgreSQL, one backfill of the real
workbooks copied for each test that needs it, the loopback HTTP server, a workbook editor.

Storage tests take ``db_url`` (or ``engine``) and run twice: on a SQLite file, and on the
PostgreSQL server named by TRACKER287G_TEST_PG (default: the local server).  When that server
cannot be reached the PostgreSQL run is skipped with the reason, unless TRACKER287G_REQUIRE_PG=1
(as in .ci/run), where it fails instead.

The 22 real workbooks are backfilled once per test session and per kind of database
(``BackfillTemplates``); a test that takes ``backfilled_url`` gets its own copy, so it may write
to it: SQLite copies with the backup API, PostgreSQL with CREATE DATABASE ... TEMPLATE.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pipeline.backfill import BackfillResult, plan_backfill, run_backfill
from scheduler.demo.loopback import LoopbackServer
from storage.database import create_database_engine, migrate, open_database
from tests.files import WORKBOOKS, workbook

PG_URL = os.environ.get("TRACKER287G_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("TRACKER287G_REQUIRE_PG") == "1"

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


def _require_postgres() -> None:
    problem = _postgres_problem()
    if problem:
        if REQUIRE_PG:
            pytest.fail(problem + " (TRACKER287G_REQUIRE_PG=1 requires it)")
        pytest.skip(problem)


@contextlib.contextmanager
def _admin() -> Iterator[Engine]:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        yield admin
    finally:
        admin.dispose()


@contextlib.contextmanager
def _postgres_schema() -> Iterator[str]:
    """A URL to a new, empty schema of the test database, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    with _admin() as admin, admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with _admin() as admin, admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each kind; each test gets its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    _require_postgres()
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to an empty PostgreSQL schema, for what only PostgreSQL does (replicas, say)."""
    _require_postgres()
    with _postgres_schema() as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on each kind of database (see ``db_url``)."""
    engine = create_database_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


# -- the backfill of the real workbooks ---------------------------------------------------------

def backfill_workbooks(url: str) -> list[BackfillResult]:
    """Backfill the 22 real workbooks into the database at ``url``."""
    engine = open_database(url)
    try:
        results = run_backfill(engine, plan_backfill([WORKBOOKS]))
    finally:
        engine.dispose()
    assert not [r.error for r in results if r.error]
    return results


class BackfillTemplates:
    """The real workbooks backfilled once per kind of database, and copies of that database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.results: list[BackfillResult] = []
        self._sqlite: Path | None = None
        self._postgres: str | None = None        # the template database's name
        self._copies_on_postgres = True          # False when this role may not create databases

    def sqlite_copy(self, target: Path) -> str:
        if self._sqlite is None:
            self._sqlite = self.folder / "backfill.sqlite"
            self.results = backfill_workbooks(f"sqlite:///{self._sqlite}")
        with contextlib.closing(sqlite3.connect(self._sqlite)) as source, \
                contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        return f"sqlite:///{target}"

    @contextlib.contextmanager
    def postgres_copy(self) -> Iterator[str]:
        """A URL to a new database holding the backfill, dropped afterwards."""
        if self._copies_on_postgres and self._postgres is None:
            self._postgres = self._create_postgres_template()
        if self._postgres is None:   # no CREATE DATABASE: backfill into a schema, the slow way
            with _postgres_schema() as url:
                backfill_workbooks(url)
                yield url
            return
        name = "t_" + uuid.uuid4().hex[:12]
        with _admin() as admin, admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._postgres}"'))
        try:
            yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            _drop_database(name)

    def _create_postgres_template(self) -> str | None:
        name = "tpl_" + uuid.uuid4().hex[:12]
        try:
            with _admin() as admin, admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError:
            self._copies_on_postgres = False
            return None
        results = backfill_workbooks(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
        self.results = self.results or results
        return name

    def close(self) -> None:
        if self._postgres is not None:
            _drop_database(self._postgres)


def _drop_database(name: str) -> None:
    with _admin() as admin, admin.connect() as connection:
        # a connection a test left open must not keep the database alive
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def backfill_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfillTemplates]:
    templates = BackfillTemplates(tmp_path_factory.mktemp("backfill"))
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backfilled_url(request: pytest.FixtureRequest, tmp_path: Path,
                   backfill_templates: BackfillTemplates) -> Iterator[str]:
    """A database of each kind holding the backfill of the 22 real workbooks, the test's own copy."""
    if request.param == "sqlite":
        yield backfill_templates.sqlite_copy(tmp_path / "backfilled.sqlite")
        return
    _require_postgres()
    with backfill_templates.postgres_copy() as url:
        yield url


@pytest.fixture
def backfilled_engine(backfilled_url: str) -> Iterator[Engine]:
    engine = create_database_engine(backfilled_url)
    yield engine
    engine.dispose()


@pytest.fixture
def backfill_results(backfilled_url: str, backfill_templates: BackfillTemplates) -> list[BackfillResult]:
    """What the backfill of the 22 workbooks reported, file by file (from the first database the
    session backfilled; each template's backfill is checked to have no error either way)."""
    return backfill_templates.results


# -- servers and files ----------------------------------------------------------------------------

@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 (scheduler.demo.loopback): add routes, read its request log."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def edit_workbook(tmp_path: Path) -> Callable[..., Path]:
    """``edit_workbook(name, target_name, {old text: new text})``: a copy of a real workbook, saved
    under ``target_name`` in the test's folder, with some cell texts replaced (each found once)."""

    def edit(name: str, target_name: str, replacements: dict[str, str]) -> Path:
        book = openpyxl.load_workbook(workbook(name))
        found = []
        for row in book.active.iter_rows():
            for cell in row:
                if cell.value in replacements:
                    found.append(cell.value)
                    cell.value = replacements[cell.value]
                    cell.data_type = "s"    # a text, even one starting with "=" (openpyxl: formula)
        assert sorted(found) == sorted(replacements), found
        target = tmp_path / "edited" / target_name
        target.parent.mkdir(parents=True, exist_ok=True)
        book.save(target)
        return target

    return edit


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database of each kind shared by the tests of one module (one backfill per module)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('module-db') / 'module.sqlite'}"
        return
    _require_postgres()
    with _postgres_schema() as url:
        yield url
