"""Notifications of new change events: a JSON webhook (its own documented contract) and any
number of Apprise targets (e-mail, Slack, Teams, Matrix, Discord, ntfy, ...), each with its own
filters, digest and start.

Once and only once: for each target, the events to send are chosen and claimed in one
transaction that holds the target's row (storage/notifications.py), then delivered, then
marked sent; a failed delivery releases its claim, so the events go at a later call (after a
backoff that doubles with each failure).  Two processes (the service and a manual `notify`)
therefore never send one event twice to one target.  A delivery is never followed to another
address: a 3xx answer is a failure.  Addresses are shown only through ``mask_url``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from publish.changes import ChangeRow, change_rows
from publish.messages import HTML, MARKDOWN, TEXT, Limits, body, title, trial_message
from publish.render import jsonable
from publish.targets import WEEKDAYS, Filters, Target, TargetError, mask_url, parse_targets, scrub
from storage.notifications import NotificationLedger
from storage.types import utcnow

log = logging.getLogger(__name__)

WEBHOOK = "webhook"
_one_at_a_time = threading.Lock()   # service jobs run in threads: one notifier per process at a time
CLAIM_TRIES = 8
# Keys of the hand-written e-mail channel, replaced by an Apprise mailto:// target.
RETIRED_KEYS = ("email_to", "email_from", "email_mode", "smtp_host", "smtp_port", "smtp_starttls", "smtp_user",
                "smtp_password_env")
RETIRED_HINT = ('e-mail is now a target: targets = [{ name = "email", '
                'url = "mailtos://user:${SMTP_PASSWORD}@smtp.example.org?to=desk@example.org" }]')


@dataclass(frozen=True)
class NotificationSettings:
    """The [notifications] section (deploy/config.example.toml documents each key)."""

    kinds: tuple[str, ...] = ("agreement.added", "agreement.removed", "agreement.renamed", "agreement.promoted",
                              "list.columns_changed", "source.anomaly")
    states: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("confirmed",)   # an event recorded without a status counts as confirmed
    agencies: tuple[str, ...] = ()
    targets: tuple[Any, ...] = ()             # Apprise URLs, or tables (publish/targets.py)
    report_url: str = ""                      # where readers find the whole report, for long lists
    digest_hour_utc: int = 7
    digest_weekday: str = "mon"
    attempts: int = 3                         # Apprise targets, within one call
    backoff_seconds: float = 2.0
    retry_backoff_minutes: float = 5.0        # between calls after a failed delivery, doubling
    retry_backoff_max_hours: float = 6.0
    claim_timeout_minutes: float = 60.0       # a claim older than this died with its process
    webhook_url: str = ""
    webhook_token_env: str = ""
    webhook_start: str = "now"
    webhook_attempts: int = 3
    webhook_backoff_seconds: float = 2.0
    webhook_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not 0 <= self.digest_hour_utc <= 23:
            raise ValueError("digest_hour_utc must be 0 to 23")
        if self.digest_weekday not in WEEKDAYS:
            raise ValueError(f"digest_weekday must be one of {', '.join(WEEKDAYS)}")
        if self.webhook_start not in ("now", "all"):
            raise ValueError("webhook_start must be now or all")
        if self.webhook_url and "://" not in self.webhook_url:
            raise ValueError(f"webhook_url {mask_url(self.webhook_url)!r} is not a URL")
        self.target_list()

    @property
    def filters(self) -> Filters:
        return Filters(self.kinds, tuple(s.upper() for s in self.states), self.statuses, self.agencies)

    def target_list(self) -> tuple[Target, ...]:
        return parse_targets(self.targets, self.filters)


class DeliveryError(RuntimeError):
    """A target could not deliver; the message says why, without secrets."""


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    sent: int
    error: str | None = None
    skipped: str | None = None     # why nothing was tried (nothing pending, digest not due, backing off)
    address: str = ""              # the masked address


@dataclass(frozen=True)
class Channel:
    """One place notifications go: the webhook or an Apprise target."""

    name: str
    filters: Filters
    start_now: bool
    digest: str
    address: str
    send: Callable[[list[ChangeRow]], None]


def shown_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """[notifications] as `config show` prints it: every address masked."""
    shown = dict(section)
    if shown.get("webhook_url"):
        shown["webhook_url"] = mask_url(str(shown["webhook_url"]))
    targets: list[Any] = []
    for entry in shown.get("targets") or []:
        if isinstance(entry, str):
            targets.append(mask_url(entry))
        elif isinstance(entry, Mapping):
            targets.append({**entry, **({"url": mask_url(str(entry["url"]))} if entry.get("url") else {})})
        else:
            targets.append(entry)
    shown["targets"] = targets
    return shown


# -- the JSON webhook ----------------------------------------------------------------------------
def webhook_payload(rows: list[ChangeRow], **extra: Any) -> bytes:
    document = {"schema": "tracker287g.notification/1", **extra, "changes": rows}
    return json.dumps(document, default=jsonable, ensure_ascii=False).encode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer stays an answer: following it would send the POST (or a body-less GET, and
    the bearer token) to an address nobody configured."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


_webhook_opener = urllib.request.build_opener(_NoRedirect)


def post_webhook(settings: NotificationSettings, rows: list[ChangeRow], sleep: Callable[[float], None] = time.sleep,
                 **extra: Any) -> None:
    """POST the changes as JSON; 5xx, 429 and network errors are retried with doubling waits;
    any other answer outside 2xx (a redirect too) fails at once."""
    url = settings.webhook_url
    token = _secret(settings.webhook_token_env)
    headers = {"Content-Type": "application/json", "User-Agent": "tracker287g notifications"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    attempts = max(1, settings.webhook_attempts)
    shown = mask_url(url)
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=webhook_payload(rows, **extra), headers=headers, method="POST")
        try:
            with _webhook_opener.open(request, timeout=settings.webhook_timeout_seconds) as response:
                response.read()
            log.info("webhook %s: %d changes delivered (attempt %d)", shown, len(rows), attempt)
            return
        except urllib.error.HTTPError as error:  # an OSError too, so it must come first
            problem, retry = f"HTTP {error.code}", error.code >= 500 or error.code == 429
            if 300 <= error.code < 400:
                problem += " (a redirect, not followed: give the webhook's own address)"
            error.close()
        except (urllib.error.URLError, OSError) as error:
            problem, retry = f"{type(error).__name__}: {getattr(error, 'reason', error)}", True
        problem = scrub(problem, [token] if token else [])
        log.warning("webhook %s: attempt %d of %d failed: %s", shown, attempt, attempts, problem)
        if not retry or attempt == attempts:
            raise DeliveryError(f"webhook {shown}: {problem} after {attempt} attempt(s)")
        sleep(settings.webhook_backoff_seconds * 2 ** (attempt - 1))


def _secret(env_name: str) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise DeliveryError(f"environment variable {env_name} (named in [notifications]) is not set")
    return value


# -- Apprise targets -----------------------------------------------------------------------------
def _apprise_plugin(target: Target) -> tuple[Any, list[str]]:
    import apprise  # loading its 190 plugins takes a moment: only when a target is used

    try:
        url = target.resolved_url()
    except TargetError as error:
        raise DeliveryError(str(error)) from error
    secrets = target.secrets()
    asset = apprise.AppriseAsset(http_redirects=False)
    plugin = apprise.Apprise.instantiate(url, asset=asset)
    if plugin is None:
        raise DeliveryError(f"target {target.name}: Apprise does not understand {target.shown()}")
    secure_mode = getattr(plugin, "secure_mode", None)
    if (secure_mode == "insecure" and getattr(plugin, "user", None) and getattr(plugin, "password", None)
            and not target.allow_insecure_login):
        raise DeliveryError(f"target {target.name}: an SMTP login without TLS would send the password in clear; "
                            "use mailtos:// or set allow_insecure_login = true")
    return plugin, secrets


# Apprise and urllib3 log the address they post to (with a token in its path) at DEBUG level.
_LIBRARY_LOGGERS = ("apprise", "urllib3.connectionpool")


class _ScrubSecrets(logging.Filter):
    """Replaces a target's secrets in library log records while it sends."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextlib.contextmanager
def _scrubbed_library_logs(secrets: Sequence[str]) -> Iterator[None]:
    scrubber = _ScrubSecrets(secrets)
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    for library in loggers:
        library.addFilter(scrubber)
    try:
        yield
    finally:
        for library in loggers:
            library.removeFilter(scrubber)


def _format_of(plugin: Any, target: Target) -> str:
    if target.format:
        return target.format
    preferred = plugin.notify_format
    if isinstance(preferred, (tuple, list)):
        preferred = preferred[0]
    value = str(getattr(preferred, "value", preferred))
    return value if value in (TEXT, MARKDOWN, HTML) else TEXT


def send_apprise(target: Target, settings: NotificationSettings, rows: Sequence[ChangeRow] | None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """One message with the changes (``rows``), or the test message (None), tried
    ``settings.attempts`` times with doubling waits."""
    with _scrubbed_library_logs(target.secrets()):
        _send_apprise(target, settings, rows, sleep)


def _send_apprise(target: Target, settings: NotificationSettings, rows: Sequence[ChangeRow] | None,
                  sleep: Callable[[float], None]) -> None:
    import apprise

    plugin, secrets = _apprise_plugin(target)
    fmt = _format_of(plugin, target)
    if rows is None:
        heading, text = trial_message()
    else:
        heading = title(rows)
        limits = Limits(body=int(plugin.body_maxlen), title_in_body=int(plugin.title_maxlen) <= 0)
        text = body(rows, fmt, limit=limits.body, report_url=settings.report_url,
                    title_text=heading if limits.title_in_body else "")
    if int(plugin.title_maxlen) > 0:
        heading = heading[:int(plugin.title_maxlen)]
    attempts = max(1, settings.attempts)
    for attempt in range(1, attempts + 1):
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            delivered = plugin.notify(body=text, title=heading, body_format=fmt)
        if delivered:
            log.info("target %s: %s delivered (attempt %d)", target.name,
                     "test message" if rows is None else f"{len(rows)} changes", attempt)
            return
        said = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
        problem = scrub(said[-1] if said else "not delivered", secrets)
        log.warning("target %s: attempt %d of %d failed: %s", target.name, attempt, attempts, problem)
        if attempt == attempts:
            raise DeliveryError(f"target {target.name}: {problem} after {attempt} attempt(s)")
        sleep(settings.backoff_seconds * 2 ** (attempt - 1))


# -- choosing, claiming, sending -----------------------------------------------------------------
def channels(settings: NotificationSettings, sleep: Callable[[float], None] = time.sleep) -> list[Channel]:
    found = []
    if settings.webhook_url:
        found.append(Channel(WEBHOOK, settings.filters, settings.webhook_start == "now", "",
                             mask_url(settings.webhook_url), lambda rows: post_webhook(settings, rows, sleep)))
    for target in settings.target_list():
        found.append(Channel(target.name, target.filters, target.start == "now", target.digest, target.shown(),
                             _sender(target, settings, sleep)))
    return found


def _sender(target: Target, settings: NotificationSettings,
            sleep: Callable[[float], None]) -> Callable[[list[ChangeRow]], None]:
    return lambda rows: send_apprise(target, settings, rows, sleep)


def register_targets(engine: Engine, settings: NotificationSettings, now: dt.datetime | None = None) -> None:
    """Remember each configured target from its first sighting (the service does this at start,
    so a new target's ``start = "now"`` is the moment the service began)."""
    for channel in channels(settings):
        _ensure_target(engine, channel, now or utcnow())


def _ensure_target(engine: Engine, channel: Channel, now: dt.datetime) -> None:
    for _ in range(CLAIM_TRIES):
        try:
            with Session(engine) as session, session.begin():
                ledger = NotificationLedger(session)
                if ledger.find_target(channel.name) is None:
                    ledger.add_target(channel.name, start_now=channel.start_now, now=now)
            return
        except (IntegrityError, OperationalError):   # another process added it at the same moment
            time.sleep(random.uniform(0.01, 0.1))


def digest_due(last: dt.datetime, now: dt.datetime, hour: int, weekday: int | None = None) -> bool:
    """Whether a digest slot (each day, or one weekday, at ``hour`` UTC) has passed since ``last``."""
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if weekday is not None:
        slot -= dt.timedelta(days=(now.weekday() - weekday) % 7)
    step = dt.timedelta(days=1 if weekday is None else 7)
    if slot > now:
        slot -= step
    return last < slot


def _claim(engine: Engine, channel: Channel, settings: NotificationSettings, now: dt.datetime,
           force: bool) -> tuple[str, list[ChangeRow]] | str:
    """Choose the events to send and claim them, in one transaction holding the target's row;
    a string says why nothing is to be sent."""
    claim = uuid.uuid4().hex
    for attempt in range(1, CLAIM_TRIES + 1):
        try:
            with Session(engine) as session, session.begin():
                ledger = NotificationLedger(session)
                target = ledger.lock_target(channel.name, now)
                if not force and target.retry_after is not None and target.retry_after > now:
                    until = f"{target.retry_after:%Y-%m-%d %H:%M} UTC"
                    return f"backing off after {target.failures} failed deliveries, until {until}"
                if channel.digest and not force:
                    last = ledger.last_sent_at(channel.name) or target.added_at
                    weekday = WEEKDAYS.index(settings.digest_weekday) if channel.digest == "weekly" else None
                    if not digest_due(last, now, settings.digest_hour_utc, weekday):
                        return f"the {channel.digest} digest is not due yet"
                ledger.release_stale(channel.name, now - dt.timedelta(minutes=settings.claim_timeout_minutes))
                taken = ledger.taken_event_ids(channel.name)
                rows = [r for r in change_rows(session) if r["id"] > target.start_after_event_id
                        and r["id"] not in taken and channel.filters.wants(r)]
                if rows:
                    ledger.claim(channel.name, [r["id"] for r in rows], claim, now)
            return (claim, rows) if rows else "nothing new to send"
        except LookupError:   # _ensure_target met a busy database every time
            return "the target is not registered yet (the database was busy); its events wait for the next call"
        except (IntegrityError, OperationalError) as error:
            # Another process claimed for this target at the same moment: choose again.
            log.info("target %s: claim attempt %d met another claimer (%s)", channel.name, attempt,
                     type(error.orig).__name__)
            time.sleep(random.uniform(0.02, 0.2) * attempt)
    return "another process kept the target busy; its events wait for the next call"


def _deliver(engine: Engine, channel: Channel, settings: NotificationSettings, now: dt.datetime,
             force: bool) -> ChannelResult:
    _ensure_target(engine, channel, now)
    claimed = _claim(engine, channel, settings, now, force)
    if isinstance(claimed, str):
        return ChannelResult(channel.name, 0, skipped=claimed, address=channel.address)
    claim, rows = claimed
    try:
        channel.send(rows)
    except BaseException as error:
        with Session(engine) as session, session.begin():
            ledger = NotificationLedger(session)
            ledger.release(claim)
            ledger.record_failure(channel.name, utcnow(), dt.timedelta(minutes=settings.retry_backoff_minutes),
                                  dt.timedelta(hours=settings.retry_backoff_max_hours))
        if not isinstance(error, DeliveryError):
            raise
        log.warning("%s notification failed: %s", channel.name, error)
        return ChannelResult(channel.name, 0, error=str(error), address=channel.address)
    with Session(engine) as session, session.begin():
        ledger = NotificationLedger(session)
        ledger.confirm(claim, utcnow())
        ledger.record_success(channel.name)
    return ChannelResult(channel.name, len(rows), address=channel.address)


def notify(engine: Engine, settings: NotificationSettings, *, now: dt.datetime | None = None, force: bool = False,
           sleep: Callable[[float], None] = time.sleep) -> list[ChannelResult]:
    """Send what is pending to every target; one result per target.  ``force`` (the `notify`
    command): a digest goes now, and a target backing off after failures is tried at once."""
    now = now or utcnow()
    with _one_at_a_time:
        return [_deliver(engine, channel, settings, now, force) for channel in channels(settings, sleep)]


def notify_test(settings: NotificationSettings, name: str,
                sleep: Callable[[float], None] = time.sleep) -> ChannelResult:
    """A test message to one target (``webhook`` for the JSON webhook); the ledger is not touched."""
    found = {c.name: c for c in channels(settings, sleep)}
    if name not in found:
        known = ", ".join(found) or "none"
        raise TargetError(f"no notification target named {name!r} (configured: {known})")
    try:
        if name == WEBHOOK:
            post_webhook(settings, [], sleep, test=True)
        else:
            target = next(t for t in settings.target_list() if t.name == name)
            send_apprise(target, settings, None, sleep)
    except DeliveryError as error:
        return ChannelResult(name, 0, error=str(error), address=found[name].address)
    return ChannelResult(name, 1, address=found[name].address)


def notify_after_run(engine: Engine, settings: NotificationSettings) -> None:
    """The service's call after each run: a notification problem never breaks a run."""
    try:
        notify(engine, settings)
    except Exception:
        log.exception("notifications failed")
