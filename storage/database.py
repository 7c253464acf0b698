"""Engine creation, database URL resolution and schema migration (Alembic)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock, Timeout
from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

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
    return create_engine(url, pool_pre_ping=True, connect_args=_postgres_connect_args(parsed))


def _postgres_connect_args(parsed: URL, *, read_only: bool = False) -> dict[str, Any]:
    # A server that vanished (host gone, packets dropped) must fail a connection attempt in
    # seconds, not hang a run: a connect timeout unless the URL sets one.
    connect_args: dict[str, Any] = {} if "connect_timeout" in parsed.query else {"connect_timeout": 10}
    if read_only:
        # Every transaction of a reader is read-only: the server refuses a write, whatever the code does.
        given = parsed.query.get("options")
        options = " ".join(given) if isinstance(given, tuple) else (given or "")
        connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
    return connect_args


# -- reading without writing ------------------------------------------------------------------

class SchemaNotCurrent(RuntimeError):
    """A database whose schema is not the one this version reads (read commands never upgrade)."""


def _sqlite_reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _writable(path: Path) -> bool:
    """Whether this process may write ``path`` (mode bits, an immutable file, a read-only mount)."""
    return os.access(path, os.W_OK)


def sqlite_read_only_reason(path: Path) -> str | None:
    """Why this process cannot write the SQLite database at ``path`` (None: it can)."""
    if not _writable(path):
        return f"{path} cannot be written by this user (file mode, an immutable file or a read-only file system)"
    if not _writable(path.parent):
        return (f"the folder {path.parent} cannot be written by this user, and SQLite writes its journal "
                "files beside the database")
    return None


def _sqlite_reading_engine(path: Path) -> Engine:
    """A database this process may write is opened as usual but with writes refused
    (``query_only``); otherwise in SQLite's read-only mode, and read as immutable when no writer
    is active and the log holds nothing (no ``-shm``, no ``-wal`` with content): SQLite would
    otherwise create the write-ahead log's files (it cannot in a folder it may not write, and
    should not leave its own beside another user's database)."""
    if sqlite_read_only_reason(path) is None:
        engine = create_engine(URL.create("sqlite", database=str(path)))
        event.listen(engine, "connect", _sqlite_reader_pragmas)
        return engine
    query = {"mode": "ro", "uri": "true"}
    wal = path.with_name(path.name + "-wal")
    if not path.with_name(path.name + "-shm").exists() and not (wal.exists() and wal.stat().st_size):
        # A writer keeps the -shm file while it works, and commits not yet copied into the file are
        # in the -wal: without either, the file is complete as it stands.
        query["immutable"] = "1"
    engine = create_engine(URL.create("sqlite", database=f"file:{quote(str(path))}", query=query))
    event.listen(engine, "connect", _sqlite_reader_pragmas)
    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_database_for_reading(url: str | None = None) -> Engine:
    """Connect for the commands that only read: nothing is written, not even a pragma or a
    journal file, so a database this process cannot write can be read.

    A database that does not exist yet is created as ``open_database`` does (a first command
    finds an empty history, as before); one whose schema is not this version's raises
    SchemaNotCurrent, since upgrading it is a write.
    """
    resolved = resolve_database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).exists():
            return open_database(resolved)
        engine = _sqlite_reading_engine(Path(parsed.database))
    else:
        engine = create_engine(resolved, pool_pre_ping=True,
                               connect_args=_postgres_connect_args(parsed, read_only=True))
    try:
        revision = _revision_when_settled(engine)
        if revision is None and not _has_tables(engine):
            engine.dispose()
            return open_database(resolved)   # a new, empty database: made as on any first use
        _check_revision(revision)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _revision_when_settled(engine: Engine, tries: int = 20) -> str | None:
    """The schema revision, read again while another process is creating the same new SQLite
    database: SQLite can answer "database is locked" at once, without its busy wait, while the
    creator switches the new file to write-ahead logging."""
    for attempt in range(1, tries + 1):
        try:
            return current_revision(engine)
        except OperationalError as error:
            if attempt == tries or "locked" not in str(error.orig):
                raise
            engine.dispose()
            time.sleep(0.25)
    raise AssertionError("unreachable")


def _has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())


def _check_revision(revision: str | None) -> None:
    scripts = ScriptDirectory.from_config(_alembic_config())
    head = scripts.get_current_head()
    if revision == head:
        return
    known = revision is not None and any(s.revision == revision for s in scripts.walk_revisions())
    if revision is not None and not known:
        raise SchemaNotCurrent(
            f"the database's schema is at revision {revision}, which this version of tracker287g does not "
            f"know (it reads {head}): it was upgraded by a newer version")
    raise SchemaNotCurrent(
        f"the database's schema is at revision {revision or 'none'} and this version reads {head}; "
        "commands that only read never upgrade it: run `tracker287g upgrade` first (or any command that "
        "writes), as a user who can write the database")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# The PostgreSQL advisory-lock key of the schema upgrade: any fixed number no other user of the
# database takes.
MIGRATION_LOCK_KEY = 287_000_001


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent, and safe when several processes
    open one fresh database at once: the upgrade runs under a database lock, and whoever waited
    for the lock checks the revision again and finds the work done)."""
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # Read without locking first: a database at head (the usual case, and a read-only one)
        # is never written to.
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
    with engine.begin() as connection:
        if sqlite:
            # Batch migrations rebuild SQLite tables that other tables refer to: SQLite's documented
            # way is foreign keys off meanwhile (the pragma is a no-op inside a transaction, so
            # before the lock's BEGIN) and a check at the end.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        _lock_schema(connection)
        current = MigrationContext.configure(connection).get_current_revision()
        if current == head:
            return
        log.info("migrating database from %s to %s", current, head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows without their referenced rows: {broken[:5]}")
    if sqlite:
        engine.dispose()   # no pooled connection keeps foreign keys off


def _lock_schema(connection: Connection) -> None:
    """Hold the database's schema lock until this transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module leaves DDL outside any transaction; BEGIN IMMEDIATE takes the write
        # lock now (waiting up to busy_timeout), and the whole upgrade commits or rolls back as one.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class ServiceAlreadyRunning(ValueError):
    """A second service on one SQLite database file."""


@dataclass
class ServiceLock:
    """What lets a service run on a database: on SQLite, the lock file beside the database, held
    while the service runs (``exclusive``: no other service can be running); on PostgreSQL
    nothing, as replicas coordinate through leases (storage.leases)."""

    file_lock: FileLock | None = None

    @property
    def exclusive(self) -> bool:
        return self.file_lock is not None

    def release(self) -> None:
        if self.file_lock is not None:
            self.file_lock.release()
            self.file_lock = None


def service_lock(engine: Engine) -> ServiceLock:
    """Take the service lock of ``engine``'s database; ServiceAlreadyRunning when another service
    holds it.  The operating system drops the lock when the process dies, kill -9 included."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return ServiceLock()
    path = Path(database).with_name(Path(database).name + ".service-lock")
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ServiceAlreadyRunning(
            f"another `tracker287g run` is already using {database} (it holds {path}); a SQLite database "
            "takes one service process: stop the other one, or use PostgreSQL to run replicas") from None
    return ServiceLock(lock)


def open_database(url: str | None = None) -> Engine:
    """Resolve, connect and migrate: what every command does first."""
    engine = create_database_engine(resolve_database_url(url))
    migrate(engine)
    return engine
