"""The ``tracker287g`` command line.  Exit codes: 0 ok, 1 failure, 2 usage error."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from scheduler import reports
from storage.database import open_database, resolve_database_url

log = logging.getLogger(__name__)

FORMATS_SIMPLE = click.Choice(["table", "json"])
FORMATS_ALL = click.Choice(["table", "json", "csv", "markdown"])


@dataclass
class App:
    db: str | None
    thresholds: dict = field(default_factory=dict)
    config_path: Path | None = None
    # Piped output gets a fixed, wide layout instead of rich's 80 columns.
    console: Console = field(default_factory=lambda: Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160))
    err: Console = field(default_factory=lambda: Console(stderr=True))
    _engine: Engine | None = None

    _config: object = None

    def config(self):
        """The service configuration (defaults, seeds/sources.toml, --config file, environment)."""
        if self._config is None:
            from scheduler.config import ConfigError, load_config

            try:
                self._config = load_config(self.config_path)
            except ConfigError as error:
                raise click.ClickException(f"configuration: {error}") from error
        return self._config

    @property
    def database_url(self) -> str:
        # --db, then TRACKER287G_DB, then [database] url of the configuration, then the default
        return resolve_database_url(self.db or self.config().database_url)

    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = open_database(self.database_url)
            except Exception as error:  # a wrong URL or an unreachable server is a failure, not a trace
                raise click.ClickException(f"cannot open database {_safe_url(self.database_url)}: {error}") from error
        return self._engine

    def session(self) -> Session:
        return Session(self.engine(), expire_on_commit=False)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def ingestor(self):
        from pipeline.ingest import IngestOptions, Ingestor

        # defaults < configuration file < environment < --drop-threshold
        return Ingestor(self.engine(), IngestOptions(thresholds={**self.config().thresholds, **self.thresholds}))


def parse_drop_threshold(ctx, param, values) -> dict:
    """``LIST=SHARE:MIN_ROWS``, e.g. ``participating=0.10:25``."""
    from diff.guards import Thresholds

    parsed = {}
    for value in values:
        try:
            list_name, rule = value.split("=", 1)
            share, rows = rule.split(":", 1)
            if list_name not in ("participating", "pending"):
                raise ValueError(f"unknown list {list_name!r}")
            parsed[list_name] = Thresholds(max_drop_share=float(share), min_drop_rows=int(rows))
        except ValueError as error:
            raise click.BadParameter(f"{value!r}: expected LIST=SHARE:MIN_ROWS, e.g. participating=0.10:25 ({error})")
    return parsed


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class DateParam(click.ParamType):
    name = "DATE"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateParam()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Database URL or SQLite file path (default: $TRACKER287G_DB, "
              "else ~/.local/share/tracker287g/tracker287g.sqlite).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--drop-threshold", "thresholds", multiple=True, metavar="LIST=SHARE:MIN_ROWS",
              envvar="TRACKER287G_DROP_THRESHOLDS", callback=parse_drop_threshold,
              help="Quarantine a list that lost more than max(MIN_ROWS, SHARE x previous rows) "
                   "(defaults participating=0.10:25, pending=0.50:50; repeatable; the variable takes "
                   "space-separated values).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="TRACKER287G_CONFIG", help="Configuration file (TOML; see deploy/config.example.toml).")
@click.version_option(package_name="tracker287g")
@click.pass_context
def main(ctx: click.Context, db: str | None, log_level: str, thresholds: dict, config_path: Path | None) -> None:
    """Watch ICE's 287(g) lists and record, with sources, what changed."""
    from scheduler.service import configure_logging

    configure_logging(log_level)
    ctx.obj = App(db=db, thresholds=thresholds, config_path=config_path)
    ctx.call_on_close(ctx.obj.close)


pass_app = click.make_pass_decorator(App)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--as-of", type=DATE, help="Date for files whose name carries none (YYYY-MM-DD).")
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@pass_app
def backfill(app: App, paths: tuple[Path, ...], as_of: dt.date | None, fmt: str) -> None:
    """Import archived workbooks (files or folders), oldest first.

    The date of each file comes from its name (ICE's typos are handled) or from --as-of.
    Files already imported are skipped, so running the same backfill twice changes nothing.
    """
    from pipeline.backfill import plan_backfill, run_backfill

    try:
        plan = plan_backfill(paths, as_of=as_of)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    results = run_backfill(app.engine(), plan, progress_console=app.err, ingestor=app.ingestor())
    reports.print_backfill(app.console, results, fmt)
    if any(r.error for r in results):
        raise SystemExit(1)


@main.command()
@click.option("--list", "list_name", type=click.Choice(["participating", "pending"]))
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@pass_app
def snapshots(app: App, list_name: str | None, fmt: str) -> None:
    """One row per snapshot: list, file, as-of, status (and why), agreements, agencies, states."""
    with app.session() as session:
        reports.print_snapshots(app.console, session, list_name, fmt)


@main.command()
@click.option("--since", type=DATE, help="Only changes dated on or after this day.")
@click.option("--until", type=DATE, help="Only changes dated on or before this day.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help="Event kind, e.g. agreement.added (repeatable; a prefix like 'agreement.' works).")
@click.option("--state", metavar="XX", help="Two-letter state code, e.g. FL.")
@click.option("--list", "list_name", type=click.Choice(["participating", "pending"]))
@click.option("--review-status", type=click.Choice(["confirmed", "false_positive", "rename", "source_error",
                                                    "unreviewed"]), help="Only changes with this review status.")
@click.option("--format", "fmt", type=FORMATS_ALL, default="table", show_default=True)
@pass_app
def changes(app: App, since, until, kinds, state, list_name, review_status, fmt) -> None:
    """The change log, oldest first, with evidence (file and row)."""
    if since and until and since > until:
        raise click.UsageError("--since is after --until")
    with app.session() as session:
        reports.print_changes(app.console, session, since, until, kinds, state, list_name, fmt, review_status)


@main.command()
@click.option("--as-of", type=DATE, help="Use the last accepted snapshots on or before this day.")
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@pass_app
def metrics(app: App, as_of: dt.date | None, fmt: str) -> None:
    """Counts of the current lists: agreements, agencies, states, by model and by state."""
    with app.session() as session:
        reports.print_metrics(app.console, session, as_of, fmt)


@main.group(invoke_without_command=True)
@click.option("--as-of", "as_of", type=DATE, multiple=True,
              help="Compare with the participating snapshot in force on this day (repeatable). "
                   "Default: the snapshots in force on the figures' dates and the latest one.")
@click.option("--all", "every", is_flag=True, help="Compare with every accepted participating snapshot.")
@click.option("--seeds", "seeds_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Baseline file (default: the project's seeds/baseline.toml).")
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@click.pass_context
def baseline(ctx: click.Context, as_of: tuple[dt.date, ...], every: bool, seeds_path: Path | None, fmt: str) -> None:
    """Each baseline figure beside what the lists measure, with how their definitions differ.

    Without a subcommand, prints the comparison.
    """
    if ctx.invoked_subcommand is not None:
        return
    from scheduler.seeds import load_baseline

    app = ctx.find_object(App)

    if every and as_of:
        raise click.UsageError("--all and --as-of exclude each other")
    try:
        figures = load_baseline(seeds_path)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    with app.session() as session:
        reports.print_baseline(app.console, session, figures, as_of, fmt, every=every)


@main.command()
@click.option("--page-url", envvar="TRACKER287G_PAGE_URL", default="https://www.ice.gov/identify-and-arrest/287g",
              show_default=True, help="The ICE 287(g) page that links the lists.")
@click.option("--contact", default=None, help="Contact (URL or e-mail) for the User-Agent "
              "(default: TRACKER287G_CONTACT, else [crawler] contact of the configuration).")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds before the crawl is abandoned.")
@pass_app
def crawl(app: App, page_url: str, contact: str, timeout: float) -> None:
    """One crawl of the ICE 287(g) page now, then the diff stage."""
    from pipeline.crawl import crawl_and_ingest

    contact = contact or app.config().contact
    if not contact.strip():
        raise click.UsageError("--contact (or TRACKER287G_CONTACT) is required: the User-Agent tells ICE who is "
                               "fetching and how to reach them, e.g. --contact you@example.org")

    report = crawl_and_ingest(app.engine(), page_url, contact=contact, timeout=timeout, ingestor=app.ingestor())
    reports.print_crawl(app.console, report)
    if report.failed:
        raise SystemExit(1)


@main.command()
@click.option("--workbooks", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of real ICE workbooks (default: the project's tests/fixtures/ice-287g).")
@pass_app
def demo(app: App, workbooks: Path | None) -> None:
    """The whole pipeline offline: a local server publishes real workbooks one after another,
    the real spider crawls them, and the change log is built and summarised.

    Unless --db is given, the demo writes a fresh SQLite file, tracker287g-demo/demo.sqlite,
    in the current folder (replaced at each run), never your real database.
    """
    from scheduler.demo import run_demo

    run_demo(app.console, db=app.db, workbooks=workbooks)


@main.command()
@pass_app
def run(app: App) -> None:
    """Run the service: every enabled source on its schedule, until SIGTERM or SIGINT (exit 0).

    Sources come from seeds/sources.toml, overridden by --config FILE and the environment
    (see `tracker287g config show`).  Logs go to stderr, one event per line, with source and run.
    """
    from scheduler.service import run_service

    config = app.config()
    if not config.contact.strip():
        raise click.UsageError("set [crawler] contact in the configuration (or TRACKER287G_CONTACT): the "
                               "User-Agent tells the sites who is fetching and how to reach them")
    if not config.enabled_sources():
        raise click.UsageError("no enabled source in the configuration")
    try:
        code = run_service(config, app.engine())
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    raise SystemExit(code)


@main.command()
@click.option("--format", "fmt", type=FORMATS_SIMPLE, default="table", show_default=True)
@pass_app
def status(app: App, fmt: str) -> None:
    """Health of each source: last success, last attempt, consecutive failures, next run, staleness."""
    with app.session() as session:
        reports.print_status(app.console, session, app.config(), fmt)


@main.group("config")
def config_group() -> None:
    """The effective configuration."""


@config_group.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@pass_app
def config_show(app: App, fmt: str) -> None:
    """Print the effective configuration: defaults, seeds/sources.toml, --config file, environment."""
    from scheduler.config import to_toml
    from scheduler.output import render_json

    config = app.config()
    raw = {**config.raw, "database": {**config.raw["database"], "url": _safe_url(app.database_url)}}
    if fmt == "json":
        app.console.file.write(render_json("tracker287g.config/1", "sources", [s.as_mapping() for s in config.sources],
                                           config=raw, overridden=dict(config.origin)) + "\n")
        return
    overridden = "".join(f"#   {key} <- {origin}\n" for key, origin in sorted(config.origin.items()))
    app.console.file.write("# effective configuration of tracker287g\n"
                           + (f"# overridden:\n{overridden}" if overridden else "") + "\n" + to_toml(raw))


# Commands that live in their own modules register themselves on ``main`` (and ``baseline``).
from scheduler import cli_news, cli_review  # noqa: E402,F401  (imported for their side effect)

if __name__ == "__main__":  # pragma: no cover
    main()
