"""Notifications of new change events: a webhook (JSON POST, retried with backoff) and e-mail
(SMTP, one message per run or a daily digest).

Which events go out is configured in [notifications] (kinds, states): ``NotificationSettings``,
filled in by scheduler.config.  A ledger table
(storage.models.NotificationSent) records each event sent on each channel, so nothing is sent
twice; an event is recorded only after its delivery succeeded, so a failed delivery is tried
again on the next call.  Secrets are read from environment variables the configuration names;
they are never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publish.changes import ChangeRow, change_rows, kind_matches, state_matches
from publish.evidence import event_text
from publish.render import jsonable
from storage.review import ReviewRepository
from storage.types import utcnow

log = logging.getLogger(__name__)

DISMISSED = ("false_positive", "source_error")
_one_at_a_time = threading.Lock()   # service jobs run in threads: never send one event twice


@dataclass(frozen=True)
class NotificationSettings:
    """The [notifications] section (deploy/config.example.toml documents each key)."""

    kinds: tuple[str, ...] = ("agreement.added", "agreement.removed", "agreement.renamed", "agreement.promoted",
                              "list.columns_changed", "source.anomaly")
    states: tuple[str, ...] = ()
    webhook_url: str = ""
    webhook_token_env: str = ""
    webhook_attempts: int = 3
    webhook_backoff_seconds: float = 2.0
    webhook_timeout_seconds: float = 10.0
    email_to: tuple[str, ...] = ()
    email_from: str = ""
    email_mode: str = "immediate"          # immediate | digest
    digest_hour_utc: int = 7
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str = ""
    smtp_password_env: str = "TRACKER287G_SMTP_PASSWORD"

    def __post_init__(self) -> None:
        if self.email_mode not in ("immediate", "digest"):
            raise ValueError("email_mode must be immediate or digest")


class DeliveryError(RuntimeError):
    """A channel could not deliver; the message says why, without secrets."""


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    sent: int
    error: str | None = None
    skipped: str | None = None     # why nothing was tried (nothing pending, digest not due)


def wanted(row: Mapping[str, Any], settings: NotificationSettings) -> bool:
    """Kinds: exact kinds or prefixes ending in a dot.  States: events with a state must be in
    the list when one is given; list-wide events (no state) always pass.  Events a reviewer
    dismissed (false positive, source error) are not sent."""
    if not kind_matches(row["kind"], settings.kinds) or not state_matches(row["state"], settings.states):
        return False
    return not (row["review"] and row["review"]["status"] in DISMISSED)


def pending_rows(session: Session, channel: str, settings: NotificationSettings) -> list[ChangeRow]:
    sent = ReviewRepository(session).sent_event_ids(channel)
    return [r for r in change_rows(session) if r["id"] not in sent and wanted(r, settings)]


def _secret(env_name: str) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if not value:
        raise DeliveryError(f"environment variable {env_name} (named in [notifications]) is not set")
    return value


# -- webhook -------------------------------------------------------------------------------------
def webhook_payload(rows: list[ChangeRow]) -> bytes:
    document = {"schema": "tracker287g.notification/1", "changes": rows}
    return json.dumps(document, default=jsonable, ensure_ascii=False).encode("utf-8")


def post_webhook(settings: NotificationSettings, rows: list[ChangeRow],
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """POST the changes as JSON; 5xx, 429 and network errors are retried with doubling waits."""
    url = settings.webhook_url
    token = _secret(settings.webhook_token_env)
    headers = {"Content-Type": "application/json", "User-Agent": "tracker287g notifications"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    attempts = max(1, settings.webhook_attempts)
    host = urlsplit(url).netloc   # the URL itself may carry a secret: log the host only
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=webhook_payload(rows), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=settings.webhook_timeout_seconds) as response:
                response.read()
            log.info("webhook %s: %d changes delivered (attempt %d)", host, len(rows), attempt)
            return
        except urllib.error.HTTPError as error:  # an OSError too, so it must come first
            problem, retry = f"HTTP {error.code}", error.code >= 500 or error.code == 429
        except (urllib.error.URLError, OSError) as error:
            problem, retry = f"{type(error).__name__}: {getattr(error, 'reason', error)}", True
        log.warning("webhook %s: attempt %d of %d failed: %s", host, attempt, attempts, problem)
        if not retry or attempt == attempts:
            raise DeliveryError(f"webhook {host}: {problem} after {attempt} attempt(s)")
        sleep(settings.webhook_backoff_seconds * 2 ** (attempt - 1))


# -- e-mail --------------------------------------------------------------------------------------
def email_message(settings: NotificationSettings, rows: list[ChangeRow], digest: bool) -> EmailMessage:
    message = EmailMessage()
    what = "daily digest" if digest else "new changes"
    message["Subject"] = f"tracker287g {what}: {len(rows)} change(s) to the 287(g) record"
    message["From"] = settings.email_from or "tracker287g@localhost"
    message["To"] = ", ".join(settings.email_to)
    message.set_content("\n\n".join(event_text(row) for row in rows) + "\n")
    return message


def send_email(settings: NotificationSettings, rows: list[ChangeRow], digest: bool) -> None:
    password = _secret(settings.smtp_password_env) if settings.smtp_user else None
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user and password is not None:
                smtp.login(settings.smtp_user, password)
            smtp.send_message(email_message(settings, rows, digest))
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {type(error).__name__}") from error
    log.info("e-mail: %d changes sent to %d recipient(s)", len(rows), len(settings.email_to))


def digest_due(last: dt.datetime | None, now: dt.datetime, hour: int) -> bool:
    """Once a UTC day, from ``hour`` on."""
    return now.hour >= hour and (last is None or last.date() < now.date())


# -- both ----------------------------------------------------------------------------------------
def notify(engine: Engine, settings: NotificationSettings, *, now: dt.datetime | None = None,
           force_digest: bool = False, sleep: Callable[[float], None] = time.sleep) -> list[ChannelResult]:
    """Send what is pending on every configured channel; returns one result per channel."""
    now = now or utcnow()
    results = []
    with _one_at_a_time:
        if settings.webhook_url:
            results.append(_deliver(engine, "webhook", settings, lambda rows: post_webhook(settings, rows, sleep)))
        if settings.email_to and settings.smtp_host:
            digest = settings.email_mode == "digest"
            with Session(engine) as session:
                due = force_digest or not digest or digest_due(ReviewRepository(session).last_sent_at("email"), now,
                                                               settings.digest_hour_utc)
            if due:
                results.append(_deliver(engine, "email", settings, lambda rows: send_email(settings, rows, digest)))
            else:
                results.append(ChannelResult("email", 0, skipped="the daily digest is not due yet"))
    return results


def _deliver(engine: Engine, channel: str, settings: NotificationSettings,
             send: Callable[[list[ChangeRow]], None]) -> ChannelResult:
    with Session(engine) as session:
        rows = pending_rows(session, channel, settings)
    if not rows:
        return ChannelResult(channel, 0, skipped="nothing new to send")
    try:
        send(rows)
    except DeliveryError as error:
        log.warning("%s notification failed: %s", channel, error)
        return ChannelResult(channel, 0, error=str(error))
    with Session(engine) as session, session.begin():
        ReviewRepository(session).record_sent(channel, [r["id"] for r in rows])
    return ChannelResult(channel, len(rows))


def notify_after_run(engine: Engine, settings: NotificationSettings) -> None:
    """The service's call after each run: a notification problem never breaks a run."""
    try:
        notify(engine, settings)
    except Exception:
        log.exception("notifications failed")
