"""Notifications against local servers on 127.0.0.1: a webhook that fails twice before it
succeeds, and an SMTP server (aiosmtpd) with a login; nothing is ever sent twice."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from sqlalchemy.orm import Session

from publish.changes import change_rows
from publish.notify import NotificationSettings, digest_due, notify, notify_after_run
from scheduler.cli import main
from scheduler.config import DEFAULTS
from tests.commands import run
from tests.files import workbook

# aiosmtpd warns, for each connection, that AUTH without TLS is unsafe: the test server listens
# on 127.0.0.1 only and exists to check the login, so that one warning is ignored.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SECRET = "s3cr3t-token-value"
FILES = ("participatingAgencies-20250221214937.xlsx", "participatingAgencies-20250226183301.xlsx",
         "participatingAgencies-20250318045215.xlsx")


@pytest.fixture
def events(db_url, engine):
    """Three real participating lists: a first snapshot, then additions, removals and a rename."""
    assert run(db_url, "backfill", *(str(workbook(f)) for f in FILES)).exit_code == 0
    return engine


def settings(**overrides) -> NotificationSettings:
    values = {"webhook_backoff_seconds": 0.01, **overrides}
    return NotificationSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def expected_ids(engine, **overrides) -> list[int]:
    from publish.notify import wanted

    with Session(engine) as session:
        return [r["id"] for r in change_rows(session) if wanted(r, settings(**overrides))]


class Webhook:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.requests: list[tuple[int, dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if len(receiver.requests) < failures else 200
                receiver.requests.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_failing_twice():
    receiver = Webhook(failures=2)
    yield receiver
    receiver.close()


def test_a_webhook_that_fails_twice_gets_everything_once(events, webhook_failing_twice, monkeypatch, caplog):
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    waits: list[float] = []
    config = settings(webhook_url=webhook_failing_twice.url, webhook_token_env="HOOK_TOKEN")
    with caplog.at_level(logging.DEBUG):
        [result] = notify(events, config, sleep=waits.append)
    wanted_ids = expected_ids(events)
    assert (result.channel, result.sent, result.error) == ("webhook", len(wanted_ids), None)
    assert [status for status, _, _ in webhook_failing_twice.requests] == [500, 500, 200]
    assert waits == [0.01, 0.02]                                      # backoff doubles
    _, headers, body = webhook_failing_twice.requests[-1]
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert body["schema"] == "tracker287g.notification/1"
    assert [c["id"] for c in body["changes"]] == wanted_ids
    assert {c["kind"] for c in body["changes"]} <= set(DEFAULTS["notifications"]["kinds"])
    assert "agreement.renamed" in {c["kind"] for c in body["changes"]}
    assert SECRET not in caplog.text and "attempt 2 of 3 failed: HTTP 500" in caplog.text

    [again] = notify(events, config, sleep=waits.append)             # the ledger: nothing twice
    assert (again.sent, again.skipped) == (0, "nothing new to send") and len(webhook_failing_twice.requests) == 3


def test_a_webhook_that_keeps_failing_is_tried_again_next_time(events, monkeypatch):
    receiver = Webhook(failures=99)
    try:
        config = settings(webhook_url=receiver.url, webhook_attempts=2)
        [failed] = notify(events, config, sleep=lambda s: None)
        assert failed.sent == 0 and "HTTP 500 after 2 attempt(s)" in failed.error
        [failed_again] = notify(events, config, sleep=lambda s: None)
        assert failed_again.error and len(receiver.requests) == 4
    finally:
        receiver.close()
    notify_after_run(events, config)   # the service's call: a closed receiver raises nothing


def test_kinds_and_states_choose_what_is_sent(events):
    texas = expected_ids(events, kinds=["agreement."], states=["tx"])
    with Session(events) as session:
        rows = {r["id"]: r for r in change_rows(session)}
    assert texas and {rows[i]["state"] for i in texas} == {"TX"}
    assert {rows[i]["kind"] for i in texas} <= {"agreement.added", "agreement.removed", "agreement.changed",
                                                "agreement.renamed", "agreement.promoted"}
    assert len(texas) == sum(1 for r in rows.values() if r["state"] == "TX" and r["kind"].startswith("agreement."))


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's naming)
        self.messages.append(envelope)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.login == b"desk" and auth_data.password == SECRET.encode())


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    with socket.socket() as probe:   # aiosmtpd's start() connects to its own port: it cannot be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    yield mailbox, port
    controller.stop()


def mail_settings(port: int, **overrides) -> dict:
    return settings(email_to=["desk@example.org"], email_from="tracker@example.org", smtp_host="127.0.0.1",
                    smtp_port=port, smtp_starttls=False, smtp_user="desk", smtp_password_env="TEST_SMTP_PASSWORD",
                    **overrides)


def test_email_is_sent_once_with_the_changes(events, smtp_server, monkeypatch, caplog):
    mailbox, port = smtp_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SECRET)
    with caplog.at_level(logging.DEBUG):
        [result] = notify(events, mail_settings(port))
    wanted_ids = expected_ids(events)
    assert (result.sent, result.error) == (len(wanted_ids), None)
    [message] = mailbox.messages
    text = message.content.decode("utf-8")
    assert message.rcpt_tos == ["desk@example.org"]
    assert f"new changes: {len(wanted_ids)} change(s)" in text
    assert "participatingAgencies-20250318045215.xlsx, row" in text
    assert SECRET not in caplog.text
    assert notify(events, mail_settings(port))[0].sent == 0 and len(mailbox.messages) == 1


def test_a_missing_password_is_reported_by_the_variable_name(events, smtp_server):
    mailbox, port = smtp_server
    [missing] = notify(events, mail_settings(port))
    assert "TEST_SMTP_PASSWORD" in missing.error and missing.sent == 0
    assert mailbox.messages == []


def test_the_daily_digest_waits_for_its_hour_and_goes_once_a_day(events, smtp_server, monkeypatch):
    mailbox, port = smtp_server
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SECRET)
    config = mail_settings(port, email_mode="digest", digest_hour_utc=7)
    early = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)
    assert notify(events, config, now=early)[0].skipped == "the daily digest is not due yet"
    later = early.replace(hour=8)
    assert notify(events, config, now=later)[0].sent > 0
    assert "daily digest" in mailbox.messages[0].content.decode()
    sent_at = dt.datetime.now(dt.UTC)
    assert not digest_due(sent_at, sent_at.replace(hour=23), 7)
    assert digest_due(sent_at, sent_at + dt.timedelta(days=1, hours=7 - sent_at.hour), 7)


def test_secrets_stay_out_of_config_show(monkeypatch):
    monkeypatch.setenv("TRACKER287G_SMTP_PASSWORD", SECRET)
    monkeypatch.setenv("TRACKER287G__NOTIFICATIONS__WEBHOOK_TOKEN_ENV", "HOOK_TOKEN")
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "[notifications]" in result.output and 'smtp_password_env = "TRACKER287G_SMTP_PASSWORD"' in result.output
    assert SECRET not in result.output
