"""`tracker287g rebuild` and the notification targets: event ids change (on PostgreSQL the new
log's ids come after every old one), so a target's start and its ledger are carried over by
event.  A rebuild must never send a target history, nor what it was already sent, nor skip
what it had still to be sent.  Against a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy.orm import Session

from pipeline.rebuild import _successors
from publish.changes import change_rows
from publish.notify import NotificationSettings, notify, register_targets
from storage.models import ChangeEvent
from tests.commands import run
from tests.files import workbook
from tests.publish.receivers import HttpReceiver

FILES = ("participatingAgencies-20250221214937.xlsx", "participatingAgencies-20250226183301.xlsx",
         "participatingAgencies-20250318045215.xlsx", "participatingAgencies05282025am.xlsx",
         "participatingAgencies05292025am.xlsx")


def backfill(db_url: str, *names: str) -> None:
    result = run(db_url, "backfill", *(str(workbook(n)) for n in names))
    assert result.exit_code == 0, result.output


def change(item: dict) -> tuple:
    """An event as a reader knows it, whatever its id (the summary is left out: it names the
    agreement's latest name, which a later list may change)."""
    return (item["kind"], item["list"], item["subject_key"], item["field"], item["old_value"], item["new_value"],
            str(item["occurred_on"]))


def wanted(engine, config: NotificationSettings) -> Counter:
    """Every event of the log the target's filters take."""
    with Session(engine) as session:
        return Counter(change(r) for r in change_rows(session) if config.filters.wants(r))


def received(request) -> Counter:
    return Counter(change(item) for item in request.json()["changes"])


@pytest.fixture
def receiver():
    server = HttpReceiver()
    yield server
    server.close()


@pytest.mark.parametrize("start", ["now", "all"])
def test_a_rebuild_neither_resends_nor_skips_a_notification(db_url, engine, receiver, start):
    config = NotificationSettings(webhook_url=receiver.url(), webhook_start=start, statuses=(),
                                  webhook_backoff_seconds=0.01)
    backfill(db_url, *FILES[:2])
    history = wanted(engine, config)
    register_targets(engine, config)                      # the target is first seen here
    backfill(db_url, FILES[2])
    [sent] = notify(engine, config)
    delivered = received(receiver.requests[0])
    assert delivered == wanted(engine, config) - (Counter() if start == "all" else history)
    backfill(db_url, FILES[3])                            # recorded, not yet sent when the service stops
    pending = wanted(engine, config) - history - delivered if start == "now" else wanted(engine, config) - delivered
    assert pending

    result = run(db_url, "rebuild", "--yes")
    assert result.exit_code == 0, result.output
    assert wanted(engine, config) == history + delivered + pending if start == "now" else delivered + pending

    [after] = notify(engine, config)
    assert len(receiver.requests) == 2, after
    assert received(receiver.requests[1]) == pending      # not the history, not what was sent
    # and what comes next is sent as before
    before_next = wanted(engine, config)
    backfill(db_url, FILES[4])
    [following] = notify(engine, config)
    new = wanted(engine, config) - before_next
    assert new and received(receiver.requests[2]) == new and following.sent == sum(new.values())


def test_a_rebuild_with_nothing_sent_yet_keeps_history_out(db_url, engine, receiver):
    """A target added after the backfill and never sent anything but a news article recorded
    since: after a rebuild, it is sent that article, then the next change only.  (On SQLite the
    article is what moves the new log's ids: they come after the ids that stay.)"""
    config = NotificationSettings(webhook_url=receiver.url(), webhook_start="now", statuses=(),
                                  kinds=("agreement.", "news.article"))
    backfill(db_url, *FILES[:3])
    register_targets(engine, config)
    with Session(engine) as session, session.begin():   # what pipeline.news records for an article
        session.add(ChangeEvent(kind="news.article", summary="News: ICE adds 287(g) agreements",
                                occurred_on=dt.date(2025, 3, 20), evidence={"url": "https://example.org/a"}))
    assert run(db_url, "rebuild", "--yes").exit_code == 0
    [article] = notify(engine, config)
    assert article.sent == 1 and [c["kind"] for c in receiver.requests[0].json()["changes"]] == ["news.article"]
    before = wanted(engine, config)
    backfill(db_url, FILES[3])
    [sent] = notify(engine, config)
    new = wanted(engine, config) - before
    assert new and received(receiver.requests[1]) == new and sent.sent == sum(new.values())


DOC = ("sha-1", "participatingAgencies05292025am.xlsx")


def event(kind: str, key: str | None, new_value: str | None = None) -> tuple:
    return (*DOC, kind, "participating", key, None, None, new_value)


@pytest.mark.parametrize(("old", "new", "expected"), [
    # the same events: each replaces its own, in order when several are alike
    ({1: event("agreement.added", "TX|A|JEM"), 2: event("agreement.added", "TX|A|JEM"), 3: event("list.reverted", None)},
     {7: event("agreement.added", "TX|A|JEM"), 8: event("agreement.added", "TX|A|JEM"), 9: event("list.reverted", None)},
     {7: 1, 8: 2, 9: 3}),
    # today's rules word a change otherwise: the same document, kind and key
    ({1: event("agreement.changed", "TX|A|JEM", "old wording")}, {5: event("agreement.changed", "TX|A|JEM", "new")},
     {5: 1}),
    # an event the old rules did not record, and one they did that is gone
    ({1: event("agreement.removed", "TX|B|JEM")}, {5: event("agreement.renamed", "TX|C|JEM")}, {}),
    # no key: only the exact event counts
    ({1: event("list.columns_changed", None, "a")}, {5: event("list.columns_changed", None, "b")}, {}),
])
def test_which_old_event_each_new_one_replaces(old, new, expected):
    assert _successors(old, new) == expected
