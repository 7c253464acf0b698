"""The service and its configuration: run, status, config show; and the offline demo."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from publish.notify import shown_section
from publish.render import print_table, render_json
from scheduler.cli.app import App, pass_app, safe_url
from scheduler.cli.options import format_option, require_contact
from scheduler.status import status_rows


@click.command()
@pass_app
def run(app: App) -> None:
    """Run the service: every enabled source on its schedule, until SIGTERM or SIGINT (exit 0).

    Sources come from seeds/sources.toml, overridden by --config FILE and the environment
    (see `tracker287g config show`).  Logs go to stderr, one event per line, with source and run.
    """
    from scheduler.service import run_service  # APScheduler only for the service

    config = app.config()
    require_contact(config.contact)
    if not config.enabled_sources():
        raise click.UsageError("no enabled source in the configuration")
    from storage.faults import DATABASE_FAULTS, describe_fault

    try:
        code = run_service(config, app.engine())
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    except DATABASE_FAULTS as error:   # at start (read-only, full, unreachable): say so, no traceback
        raise click.ClickException(f"the database cannot be used: {describe_fault(error)}") from error
    raise SystemExit(code)


@click.command()
@format_option()
@pass_app
def status(app: App, fmt: str) -> None:
    """Health of each source: last success, last attempt, consecutive failures, next run, staleness."""
    with app.reading() as session:
        rows = status_rows(session, app.config())
    if fmt == "json":
        app.emit(render_json("tracker287g.status/1", "sources", rows))
        return
    shown = [{**r, "last_success": _minute(r["last_success"]), "last_attempt": _minute(r["last_attempt"]),
              "next_run": _minute(r["next_run"]), "stale": "yes" if r["stale"] else "",
              "last_lists": ", ".join(f"{name}: {outcome}" for name, outcome in r["last_lists"].items())}
             for r in rows]
    print_table(app.console, "Sources", ("source", "enabled", "schedule", "last_success", "last_attempt",
                                         "last_outcome", "last_lists", "consecutive_failures", "next_run",
                                         "hours_since_success", "stale", "last_replica", "running_in", "last_error"),
                shown)


def _minute(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


@click.group("config")
def config_group() -> None:
    """The effective configuration."""


@config_group.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@pass_app
def config_show(app: App, fmt: str) -> None:
    """Print the effective configuration: defaults, seeds/sources.toml, --config file, environment."""
    config = app.config()
    database: dict[str, Any] = {**config.raw["database"], "url": safe_url(app.database_url)}
    notifications = shown_section(config.raw["notifications"])   # addresses without their secrets
    if fmt == "json":
        app.emit(render_json("tracker287g.config/1", "sources", [s.as_mapping() for s in config.sources],
                             config={**config.raw, "database": database, "notifications": notifications},
                             overridden=dict(config.origin)))
        return
    overridden = "".join(f"#   {key} <- {origin}\n" for key, origin in sorted(config.origin.items()))
    app.emit("# effective configuration of tracker287g\n" + (f"# overridden:\n{overridden}" if overridden else "")
             + "\n" + config.to_toml(database=database, notifications=notifications))


@click.command()
@click.option("--workbooks", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of real ICE workbooks, in participating/ and pending/ "
                   "(default: the ones packaged with tracker287g).")
@pass_app
def demo(app: App, workbooks: Path | None) -> None:
    """The whole pipeline offline: a local server publishes real workbooks one after another,
    the real spider crawls them, and the change log is built and summarised.

    Unless --db is given, the demo writes a fresh SQLite file, tracker287g-demo/demo.sqlite,
    in the current folder (replaced at each run), never your real database.
    """
    from scheduler.demo import run_demo

    run_demo(app.console, db=app.db, workbooks=workbooks)
