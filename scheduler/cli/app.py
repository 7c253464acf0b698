"""What every command shares: the database, the layered configuration, and the consoles."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from diff.guards import Thresholds
from scheduler.config import Config, ConfigError, load_config
from storage.database import (
    SchemaNotCurrent,
    open_database,
    open_database_for_reading,
    resolve_database_url,
    sqlite_read_only_reason,
)
from storage.faults import describe_fault

if TYPE_CHECKING:
    from pipeline.ingest import Ingestor


@dataclass
class App:
    db: str | None
    thresholds: dict[str, Thresholds] = field(default_factory=dict)
    config_path: Path | None = None
    # Piped output gets a fixed, wide layout instead of rich's 80 columns.
    console: Console = field(
        default_factory=lambda: Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160))
    err: Console = field(default_factory=lambda: Console(stderr=True))
    _engine: Engine | None = None
    _reader: Engine | None = None
    _config: Config | None = None

    def config(self) -> Config:
        """The service configuration (defaults, seeds/sources.toml, --config file, environment)."""
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                raise click.ClickException(f"configuration: {error}") from error
        return self._config

    @property
    def database_url(self) -> str:
        # --db, then TRACKER287G_DB, then [database] url of the configuration, then the default
        given = self.db or self.config().database_url
        try:
            return resolve_database_url(given)
        except (ArgumentError, ValueError) as error:   # unparseable, or e.g. a port that is no number
            raise click.UsageError(f"{given!r} is not a database URL or a SQLite file path "
                                   "(e.g. postgresql://user@host/db or ./tracker287g.sqlite)") from error

    def engine(self) -> Engine:
        """The database, upgraded to this version's schema, for the commands that write."""
        if self._engine is None:
            url = self.database_url
            self._refuse_read_only(url)
            try:
                self._engine = open_database(url)
            except Exception as error:  # a wrong URL or an unreachable server is a failure, not a trace
                raise click.ClickException(f"cannot open database {safe_url(url)}: {_one_line(error)}") from error
        return self._engine

    def reader(self) -> Engine:
        """The database for the commands that only read: never upgraded, never written (so a
        database this user cannot write can be read)."""
        if self._engine is not None:
            return self._engine
        if self._reader is None:
            url = self.database_url
            try:
                self._reader = open_database_for_reading(url)
            except SchemaNotCurrent as error:
                raise click.ClickException(f"cannot read database {safe_url(url)}: {error}") from error
            except Exception as error:  # a wrong URL or an unreachable server is a failure, not a trace
                raise click.ClickException(f"cannot open database {safe_url(url)}: {_one_line(error)}") from error
        return self._reader

    def session(self) -> Session:
        return Session(self.engine(), expire_on_commit=False)

    def reading(self) -> Session:
        """A session for reading only (see ``reader``)."""
        return Session(self.reader(), expire_on_commit=False)

    @staticmethod
    def _refuse_read_only(url: str) -> None:
        """A SQLite file this user cannot write: one line before anything is tried, not a failure
        per document."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return
        path = Path(parsed.database)
        reason = sqlite_read_only_reason(path) if path.exists() else None
        if reason:
            raise click.ClickException(f"the database is read-only: {reason}. This command writes; the commands "
                                       "that only read (changes, snapshots, status, metrics, export, report, ...) "
                                       "work on it")

    def close(self) -> None:
        for engine in (self._engine, self._reader):
            if engine is not None:
                engine.dispose()
        self._engine = self._reader = None

    def ingestor(self) -> Ingestor:
        from pipeline.ingest import IngestOptions, Ingestor  # the readers (bs4, calamine) only when ingesting

        # defaults < configuration file < environment < --drop-threshold
        return Ingestor(self.engine(), IngestOptions(thresholds={**self.config().thresholds, **self.thresholds},
                                                       confirmation=self.config().confirmation,
                                                       limits=self.config().limits))

    def emit(self, text: str) -> None:
        """Output for programs (JSON, CSV, Markdown, TOML), written as is."""
        self.console.file.write(text if text.endswith("\n") else text + "\n")


def _one_line(error: Exception) -> str:
    """A database error in one line (no SQL, no parameters); any other error as it says itself."""
    from sqlalchemy.exc import SQLAlchemyError

    return describe_fault(error) if isinstance(error, SQLAlchemyError) else str(error)


def safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


pass_app = click.make_pass_decorator(App)
