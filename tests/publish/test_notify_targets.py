"""Apprise targets delivering real messages to loopback receivers: json:// and form:// to a local
HTTP server, mailto:// to aiosmtpd (a login, a wrong password, a login without TLS refused),
Mattermost's incoming-webhook API imitated on 127.0.0.1; the message itself (counts, changes by
state, evidence, the length limit); filters, digests and `notify --test`."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from publish.changes import change_rows
from publish.messages import HTML, MARKDOWN, TEXT, body, title
from publish.notify import NotificationSettings, digest_due, notify
from storage.models import NotificationSent
from tests.commands import run
from tests.files import workbook
from tests.publish.receivers import HttpReceiver, smtp_server

# aiosmtpd warns, for each connection, that AUTH without TLS is unsafe: the test server listens
# on 127.0.0.1 only and exists to check the login, so that one warning is ignored.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SECRET = "s3cr3t-password-value"
FILES = ("participatingAgencies-20250221214937.xlsx", "participatingAgencies-20250226183301.xlsx",
         "participatingAgencies-20250318045215.xlsx")
# The 2025-03-18 list re-spells "Office of the Attorney General" (TX) as "Texas Office of the
# Attorney General": one agreement continued (identity tier 2, basis canonical_key), an
# agreement.changed event (not a rename proposal, nor a removal and an addition).
RESPELT = ("Texas Office of the Attorney General (TX, Task Force Model): agency Office of the Attorney General → "
           "Texas Office of the Attorney General")
# the default kinds, and field changes: the Texan events are then 20 additions and that re-spelling
WITH_CHANGES = [*NotificationSettings().kinds, "agreement.changed"]


@pytest.fixture
def events(db_url, engine):
    """Three real participating lists: 214 events the default kinds want, 20 of them in Texas.

    Before identity tiers 2 and 3 these were 221 and 21: the 2025-03-18 list re-spells AK
    "Department of Corrections", FL "Gulf County BOCC", FL "Pasco County BOCC" (3 removals
    and 3 additions, now 3 agency changes) and TX "Office of the Attorney General" (a rename
    proposal, now an agency change); agreement.changed is not a default kind."""
    result = run(db_url, "backfill", *(str(workbook(f)) for f in FILES))
    assert result.exit_code == 0, result.output
    return engine


@pytest.fixture
def receiver():
    server = HttpReceiver()
    yield server
    server.close()


def settings(*targets, **overrides) -> NotificationSettings:
    # every status unless a test says otherwise: most events of three lists are still provisional
    return NotificationSettings(**{"targets": tuple(targets), "backoff_seconds": 0.01, "statuses": (), **overrides})


def sent_count(engine, channel: str) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(NotificationSent)
                              .where(NotificationSent.channel == channel, NotificationSent.status == "sent"))


def test_json_target_gets_the_texas_changes_with_counts_and_evidence(events, receiver):
    config = settings({"name": "desk-json", "url": f"json://127.0.0.1:{receiver.port}/notify", "start": "all",
                       "states": ["TX"], "kinds": WITH_CHANGES})
    [result] = notify(events, config)
    # 21 Texan events, and the list-wide one (a new column), which passes any states filter
    assert (result.channel, result.sent, result.error) == ("desk-json", 22, None)
    [request] = receiver.requests
    message = request.json()
    assert request.path == "/notify"
    assert message["title"] == "TX: 20 agreements added, 1 changed, 1 other change"
    text = message["message"]
    assert text.startswith("All lists\n- The participating list changed shape: new column COUNTY\n")
    assert "\nTX\n- Added on the participating list: " in text
    assert f"- {RESPELT} [names over time: " in text
    assert ("    File: participatingAgencies-20250318045215.xlsx, row 325\n"
            "    Previous: participatingAgencies-20250226183301.xlsx\n"
            "    Read from: participatingAgencies-20250221214937.xlsx, row 141") in text
    assert sent_count(events, "desk-json") == 22
    [again] = notify(events, config)
    assert again.skipped == "nothing new to send" and len(receiver.requests) == 1


def test_form_target_gets_the_same_message_as_form_fields(events, receiver):
    config = settings({"name": "desk-form", "url": f"form://127.0.0.1:{receiver.port}/form", "start": "all",
                       "kinds": ["agreement.removed"]})
    [result] = notify(events, config)
    # Gulf County BOCC's Task Force Model agreement (FL) and Douglas County Sheriff's Office (NV);
    # AK "Department of Corrections", FL "Gulf County BOCC" (WSO) and "Pasco County BOCC" were
    # re-spelt, not removed (identity tier 2)
    assert result.sent == 2
    fields = receiver.requests[0].form()
    assert fields["title"] == "FL, NV: 2 agreements removed"
    assert fields["message"].count("\n- No longer on the participating list: ") == 2
    assert fields["message"].startswith("FL\n") and "\nNV\n" in fields["message"] and fields["type"] == "info"


@pytest.fixture
def mail():
    controller, mailbox, port = smtp_server("desk", SECRET)
    yield mailbox, port
    controller.stop()


def mail_target(port: int, **extra) -> dict:
    return {"name": "desk", "url": f"mailto://desk:${{TEST_SMTP_PASSWORD}}@127.0.0.1:{port}"
                                   "?to=desk@example.org&from=tracker@example.org",
            "start": "all", "states": ["TX"], **extra}


def test_mailto_logs_in_and_sends_html_with_the_changes(events, mail, monkeypatch, caplog):
    mailbox, port = mail
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SECRET)
    with caplog.at_level(logging.DEBUG):
        [result] = notify(events, settings(mail_target(port, allow_insecure_login=True, kinds=WITH_CHANGES)))
    assert (result.sent, result.error) == (22, None)
    [envelope] = mailbox.messages
    assert envelope.rcpt_tos == ["desk@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "TX: 20 agreements added, 1 changed, 1 other change"
    html = message.get_body(("html",)).get_content()
    assert "<h3>TX</h3>" in html and RESPELT in html
    assert "participatingAgencies-20250318045215.xlsx, row 325" in html
    assert SECRET not in caplog.text and SECRET not in result.address


def test_mailto_with_a_wrong_password_fails_and_sends_nothing(events, mail, monkeypatch, caplog):
    mailbox, port = mail
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-password-value")
    with caplog.at_level(logging.DEBUG):
        [result] = notify(events, settings(mail_target(port, allow_insecure_login=True)), force=True)
    assert result.sent == 0 and result.error.startswith("target desk: ") and "after 3 attempt(s)" in result.error
    assert "wrong-password-value" not in result.error and "wrong-password-value" not in caplog.text
    assert mailbox.messages == [] and sent_count(events, "desk") == 0


def test_mailto_login_without_tls_is_refused_unless_allowed(events, mail, monkeypatch):
    mailbox, port = mail
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SECRET)
    [result] = notify(events, settings(mail_target(port)))
    assert "login without TLS would send the password in clear" in result.error
    assert mailbox.messages == []


def test_a_missing_secret_is_named_not_shown(events, mail):
    _, port = mail
    [result] = notify(events, settings(mail_target(port, allow_insecure_login=True)))
    assert result.error == "target desk: environment variable TEST_SMTP_PASSWORD is not set"


def test_mattermost_gets_markdown_cut_to_its_limit_with_a_link_to_the_report(events, receiver, monkeypatch, caplog):
    """Mattermost's incoming webhook (POST /hooks/<token>, JSON {"text": ...}) imitated on
    127.0.0.1; its messages take 4000 characters and no title, so the title leads the text."""
    monkeypatch.setenv("MM_TOKEN", "mattermosttoken1234")
    config = settings({"name": "newsroom", "url": f"mmost://127.0.0.1:{receiver.port}/${{MM_TOKEN}}",
                       "start": "all", "format": "markdown"}, report_url="https://reports.example.org/287g/")
    with caplog.at_level(logging.DEBUG):
        [result] = notify(events, config)
    assert result.sent == 214 and "mattermosttoken1234" not in result.address
    assert "POST URL: http://127.0.0.1" in caplog.text and "mattermosttoken1234" not in caplog.text
    [request] = receiver.requests
    assert request.path == "/hooks/mattermosttoken1234"
    text = request.json()["text"]
    assert len(text) <= 4000
    # 24 states: Alaska's one event is now the re-spelt Department of Corrections, a field change
    assert text.startswith("24 states: 211 agreements added, 2 removed, 1 other change\r\n")
    assert "\n**All lists**\n- The participating list changed shape: new column COUNTY\n" in text
    shown = text.count("\n- ")
    assert f"… and {214 - shown} more changes: https://reports.example.org/287g/" in text


def test_the_body_escapes_scraped_text_and_links_only_http():
    row = {"id": 1, "kind": "agreement.added", "state": "TX", "summary": "Added: <b>*Sheriff*</b> [x](javascript:y)",
           "evidence": {"file": "a.xlsx", "row": 2, "moa_url": "https://www.ice.gov/moa/x.pdf"}}
    evil = {**row, "evidence": {"moa_url": "javascript:alert(1)"}}
    assert body([row], HTML, limit=10_000) == (
        '<h3>TX</h3>\n<ul>\n<li>Added: &lt;b&gt;*Sheriff*&lt;/b&gt; [x](javascript:y)<br><small>File: a.xlsx, row 2<br>'
        'MOA: <a href="https://www.ice.gov/moa/x.pdf">https://www.ice.gov/moa/x.pdf</a></small></li>\n</ul>')
    assert body([row], MARKDOWN, limit=10_000) == (
        "**TX**\n- Added: \\<b\\>\\*Sheriff\\*\\</b\\> \\[x\\]\\(javascript:y\\)\n"
        "  File: a.xlsx, row 2 · MOA: [https://www.ice.gov/moa/x.pdf](https://www.ice.gov/moa/x.pdf)")
    assert "href" not in body([evil], HTML, limit=10_000)
    assert body([row, row], TEXT, limit=200) == (
        "TX\n- Added: <b>*Sheriff*</b> [x](javascript:y)\n    File: a.xlsx, row 2\n"
        "    MOA: https://www.ice.gov/moa/x.pdf\n\n… and 1 more change (tracker287g changes)\n")


@pytest.mark.parametrize(("kinds_states", "expected"), [
    ([("agreement.added", "TX")], "TX: 1 agreement added"),
    ([("agreement.added", "TX")] * 3 + [("agreement.removed", "TX")], "TX: 3 agreements added, 1 removed"),
    ([("agreement.changed", "FL"), ("agreement.added", "AL")], "AL, FL: 1 agreement added, 1 changed"),
    ([("agreement.added", s) for s in ("AL", "FL", "TX", "PA")], "4 states: 4 agreements added"),
    ([("list.columns_changed", None)], "287(g): 1 other change"),
    ([("source.failed", None), ("source.stale", None)], "287(g): 2 other changes"),
])
def test_the_title_counts_the_changes(kinds_states, expected):
    assert title([{"kind": k, "state": s} for k, s in kinds_states]) == expected


def test_filters_by_agency_and_status(events, receiver):
    sheriffs = settings({"name": "sheriffs", "url": f"json://127.0.0.1:{receiver.port}/s", "start": "all",
                         "agencies": ["SHERIFF"], "kinds": ["agreement.removed"]})
    with Session(events) as session:
        removed = [r for r in change_rows(session) if r["kind"] == "agreement.removed"]
    wanted = [r for r in removed if "sheriff" in r["summary"].lower()]
    assert 0 < len(wanted) < len(removed)
    assert notify(events, sheriffs)[0].sent == len(wanted)
    with Session(events) as session:
        statuses = Counter(r["status"] for r in change_rows(session) if NotificationSettings(statuses=()).filters.wants(r))
    assert statuses["provisional"] > 0 and statuses["confirmed"] > 0
    for status in ("provisional", "confirmed"):
        only = settings({"name": status, "url": f"json://127.0.0.1:{receiver.port}/{status}", "start": "all",
                         "statuses": [status]})
        assert notify(events, only)[0].sent == statuses[status]


MONDAY_6 = dt.datetime(2026, 6, 1, 6, 0, tzinfo=dt.UTC)   # 2026-06-01 is a Monday


@pytest.mark.parametrize(("last", "now", "weekday", "due"), [
    (MONDAY_6, MONDAY_6.replace(hour=6, minute=59), None, False),      # daily at 7: not yet
    (MONDAY_6, MONDAY_6.replace(hour=7), None, True),
    (MONDAY_6.replace(hour=7, minute=5), MONDAY_6.replace(hour=23), None, False),   # already sent today
    (MONDAY_6.replace(hour=7, minute=5), MONDAY_6 + dt.timedelta(days=1, hours=1), None, True),
    (MONDAY_6, MONDAY_6.replace(hour=8), 0, True),                      # weekly on Mondays at 7
    (MONDAY_6.replace(hour=8), MONDAY_6 + dt.timedelta(days=6, hours=3), 0, False),   # Sunday
    (MONDAY_6.replace(hour=8), MONDAY_6 + dt.timedelta(days=7, hours=1), 0, True),    # next Monday 7:00
])
def test_digest_slots(last, now, weekday, due):
    assert digest_due(last, now, 7, weekday) is due


def test_a_daily_digest_waits_for_its_hour_then_sends_everything_once(events, receiver):
    config = settings({"name": "daily", "url": f"json://127.0.0.1:{receiver.port}/d", "start": "all",
                       "digest": "daily"})
    assert notify(events, config, now=MONDAY_6)[0].skipped == "the daily digest is not due yet"
    assert notify(events, config, now=MONDAY_6.replace(hour=8))[0].sent == 214
    assert notify(events, config, now=MONDAY_6.replace(hour=9))[0].skipped == "the daily digest is not due yet"
    assert len(receiver.requests) == 1


def test_notify_test_sends_one_test_message_and_records_nothing(events, receiver, db_url, tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[notifications]\ntargets = [{{ name = "desk", url = "json://127.0.0.1:{receiver.port}/t" '
                           '}]\n', encoding="utf-8")
    result = run(db_url, "--config", str(config_file), "notify", "--test", "desk")
    assert result.exit_code == 0, result.output
    assert result.output == f"desk (json://127.0.0.1:{receiver.port}/t): test message sent\n"
    [request] = receiver.requests
    assert request.json()["title"] == "tracker287g: test message"
    assert sent_count(events, "desk") == 0
    unknown = run(db_url, "--config", str(config_file), "notify", "--test", "slack")
    assert unknown.exit_code == 2 and "no notification target named 'slack' (configured: desk)" in unknown.output


def test_an_apprise_target_does_not_follow_a_redirect_either(events):
    elsewhere = HttpReceiver()
    server = HttpReceiver(answer=lambda n: (307, {"Location": elsewhere.url("/stolen")}))
    config = settings({"name": "moved", "url": f"json://127.0.0.1:{server.port}/j", "start": "all"}, attempts=2)
    try:
        [result] = notify(events, config)
    finally:
        server.close()
        elsewhere.close()
    assert result.sent == 0
    assert result.error == "target moved: Failed to send JSON POST notification: error=307. after 2 attempt(s)"
    assert len(server.requests) == 2 and elsewhere.requests == []
    assert sent_count(events, "moved") == 0


@pytest.mark.parametrize(("status", "sent"), [
    (None, True),             # recorded before events had a status
    ("confirmed", True),
    ("provisional", False),   # waits until a later list confirms it
    ("reverted", False),
])
def test_by_default_only_confirmed_changes_go_out(status, sent):
    row = {"kind": "agreement.removed", "state": "TX", "subject_key": "TX|HARRIS COUNTY SHERIFFS OFFICE|JEM",
           "old_value": "Harris County Sheriff's Office", "new_value": None, "summary": "No longer listed",
           "review": None, "status": status}
    assert NotificationSettings().filters.wants(row) is sent
    target = NotificationSettings(targets=("json://127.0.0.1/x",)).target_list()[0]
    assert target.filters.wants(row) is sent


def test_a_target_with_the_defaults_gets_only_confirmed_changes(events, receiver):
    """Of three real lists, the additions and removals are still provisional (a later list must
    keep them): only the confirmed events go out."""
    config = NotificationSettings(targets=({"name": "desk", "url": f"json://127.0.0.1:{receiver.port}/c",
                                            "start": "all"},))
    with Session(events) as session:
        rows = [r for r in change_rows(session) if config.filters.wants(r)]
    [result] = notify(events, config)
    assert result.sent == len(rows) and {r["status"] for r in rows} == {"confirmed"}
    assert {r["kind"] for r in rows}.isdisjoint({"agreement.added", "agreement.removed"})
