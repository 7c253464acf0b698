"""The ``tracker287g`` group: global options, and every command registered on it."""

from __future__ import annotations

from pathlib import Path

import click

from diff.guards import Thresholds
from scheduler.cli import baseline, lists, news, review, service
from scheduler.cli.app import App
from scheduler.cli.options import parse_drop_threshold
from scheduler.logs import configure_logging


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
def main(ctx: click.Context, db: str | None, log_level: str, thresholds: dict[str, Thresholds],
         config_path: Path | None) -> None:
    """Watch ICE's 287(g) lists and record, with sources, what changed."""
    configure_logging(log_level)
    ctx.obj = App(db=db, thresholds=thresholds, config_path=config_path)
    ctx.call_on_close(ctx.obj.close)
    if config_path is not None:
        ctx.obj.config()   # a configuration given is checked, even when --db makes it unneeded


for command in (
    lists.backfill, lists.rebuild, lists.upgrade, lists.crawl,
    lists.snapshots, lists.changes, lists.metrics, lists.export,
    baseline.baseline,
    news.news,
    review.review, review.feed, review.report, review.serve, review.notify,
    service.run, service.status, service.config_group, service.demo,
):
    main.add_command(command)
