"""Engine creation, database URL resolution and schema migration (Alembic)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

ENV_VAR = "TRACKER287G_DB"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def default_database_path() -> Path:
    """Where the embedded SQLite database lives unless told otherwise."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "tracker287g" / "tracker287g.sqlite"


def resolve_database_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``--db`` wins, then ``TRACKER287G_DB``, then the default SQLite file.

    A bare file path is accepted and turned into a SQLite URL; ``postgresql://`` URLs are
    given the psycopg 3 driver.
    """
    variables = os.environ if environ is None else environ
    value = explicit or variables.get(ENV_VAR) or str(default_database_path())
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    url = make_url(value)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets people read the change log while the service writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL keeps every commit atomic and survives a crash of the process; only
    # an operating-system crash may lose the newest commits (which the next crawl redoes).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite parent folders are created on demand."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        log.info("migrating database from %s to %s", current, head)
        if sqlite:
            # Batch migrations rebuild SQLite tables that other tables refer to: SQLite's documented
            # way is foreign keys off meanwhile (the pragma only works before the first write, so
            # here) and a check at the end.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows without their referenced rows: {broken[:5]}")
    if sqlite:
        engine.dispose()   # no pooled connection keeps foreign keys off


def open_database(url: str | None = None) -> Engine:
    """Resolve, connect and migrate: what every command does first."""
    engine = create_database_engine(resolve_database_url(url))
    migrate(engine)
    return engine
