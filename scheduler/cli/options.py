"""Options and checks that more than one command uses, each defined once."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from diff.guards import Thresholds
from diff.normalise import STATE_NAMES, UNKNOWN_STATE
from publish.changes import ALL_STATUSES, CHANGE_STATUSES, UNREVIEWED, ChangeFilter, unknown_kinds
from storage.models import REVIEW_STATUSES

FORMATS_SIMPLE = click.Choice(["table", "json"])
FORMATS_ALL = click.Choice(["table", "json", "csv", "markdown"])
LISTS = click.Choice(["participating", "pending"])

Command = TypeVar("Command", bound=Callable[..., Any])


class DateParam(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


DATE = DateParam()


def format_option(choice: click.Choice = FORMATS_SIMPLE) -> Callable[[Command], Command]:
    return click.option("--format", "fmt", type=choice, default="table", show_default=True)


def change_filter_options(function: Command) -> Command:
    """The filters of `changes`, shared by `feed`; the command receives ``where``, a ChangeFilter."""
    options = [
        click.option("--since", type=DATE, help="Only changes dated on or after this day."),
        click.option("--until", type=DATE, help="Only changes dated on or before this day."),
        click.option("--kind", "kinds", multiple=True, metavar="KIND",
                     help="Event kind, e.g. agreement.added (repeatable; a prefix like 'agreement.' works)."),
        click.option("--state", metavar="XX", help="Two-letter state code, e.g. FL."),
        click.option("--list", "list_name", type=LISTS),
        click.option("--review-status", type=click.Choice([*REVIEW_STATUSES, UNREVIEWED]),
                     help="Only changes with this review status."),
        click.option("--status", type=click.Choice([*CHANGE_STATUSES, ALL_STATUSES]),
                     help="Only changes with this confirmation status: provisional, confirmed (the new state held; "
                          "what a newsroom publishes), reverted (the list went back), or all."),
    ]

    @functools.wraps(function)   # keeps the options already declared on ``function``
    def with_filter(*args: Any, since: dt.date | None, until: dt.date | None, kinds: tuple[str, ...],
                    state: str | None, list_name: str | None, review_status: str | None, status: str | None,
                    **kwargs: Any) -> Any:
        where = ChangeFilter(since, until, tuple(kinds), check_state(state), list_name, review_status, status)
        return function(*args, where=where, **kwargs)

    for option in reversed(options):
        with_filter = option(with_filter)
    return with_filter  # type: ignore[return-value]


def check_state(state: str | None) -> str | None:
    """A two-letter code the lists use (states, DC, territories, ``??``), upper-cased."""
    if state is None:
        return None
    code = state.strip().upper()
    if code not in STATE_NAMES and code != UNKNOWN_STATE:
        raise click.BadParameter(f"{state!r} is not a state code; one of: {', '.join(sorted(STATE_NAMES))} "
                                 f"(or {UNKNOWN_STATE} for an unreadable state)", param_hint="--state")
    return code


def check_filter(session: Session, where: ChangeFilter) -> None:
    """Every --kind names a kind of change (or a prefix of one), known or in the log."""
    unknown, known = unknown_kinds(session, where.kinds)
    if unknown:
        raise click.BadParameter(f"unknown kind {', '.join(map(repr, unknown))}; one of: {', '.join(known)} "
                                 "(or a prefix ending in a dot, e.g. 'agreement.')", param_hint="--kind")


def contact_option(function: Command) -> Command:
    return click.option("--contact", default=None, help="Contact (URL or e-mail) for the User-Agent "
                        "(default: TRACKER287G_CONTACT, else [crawler] contact of the configuration).")(function)


def require_contact(contact: str | None) -> str:
    """The contact the User-Agent carries; without one nothing may be fetched."""
    if not contact or not contact.strip():
        raise click.UsageError("a contact is required (--contact, TRACKER287G_CONTACT or [crawler] contact in the "
                               "configuration): the User-Agent tells each site who is fetching and how to reach "
                               "them, e.g. --contact you@example.org")
    return contact


def parse_drop_threshold(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Thresholds]:
    """``LIST=SHARE:MIN_ROWS``, e.g. ``participating=0.10:25``."""
    parsed = {}
    for value in values:
        try:
            list_name, rule = value.split("=", 1)
            share, rows = rule.split(":", 1)
            if list_name not in ("participating", "pending"):
                raise ValueError(f"unknown list {list_name!r}")
            parsed[list_name] = Thresholds(max_drop_share=float(share), min_drop_rows=int(rows))
        except ValueError as error:
            raise click.BadParameter(
                f"{value!r}: expected LIST=SHARE:MIN_ROWS, e.g. participating=0.10:25 ({error})") from error
    return parsed
