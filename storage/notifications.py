"""The notification ledger: which change events went out to which target, claimed before they go.

Choosing what to send and claiming it happen in one transaction that first locks the target's
row (``lock_target``: an UPDATE, so a row lock on PostgreSQL and the write lock on SQLite), so a
second process choosing for the same target waits, then sees the claims; the unique
(channel, event) pair stops a duplicate even without the lock.  The caller owns the
transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import ChangeEvent, NotificationSent, NotificationTarget

CLAIMED, SENT = "claimed", "sent"


class NotificationLedger:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- targets --------------------------------------------------------------------------------
    def find_target(self, name: str) -> NotificationTarget | None:
        return self.session.get(NotificationTarget, name)

    def add_target(self, name: str, *, start_now: bool, now: dt.datetime) -> NotificationTarget:
        """A target seen for the first time.  ``start_now``: the events already recorded are
        history it is never sent, unless the ledger already has deliveries to it (a channel from
        before targets were remembered keeps its pending events)."""
        delivered_before = self.session.scalar(
            select(func.count()).select_from(NotificationSent).where(NotificationSent.channel == name))
        start = 0
        if start_now and not delivered_before:
            start = self.session.scalar(select(func.max(ChangeEvent.id))) or 0
        target = NotificationTarget(name=name, start_after_event_id=start, added_at=now, failures=0)
        self.session.add(target)
        self.session.flush()
        return target

    def lock_target(self, name: str, now: dt.datetime) -> NotificationTarget:
        """Take the target's row for this transaction (another claimer waits until it ends)."""
        self.session.execute(update(NotificationTarget).where(NotificationTarget.name == name).values(claimed_at=now))
        target = self.session.get(NotificationTarget, name, populate_existing=True)
        if target is None:
            raise LookupError(f"notification target {name!r} was never added")
        return target

    def record_failure(self, name: str, now: dt.datetime, backoff: dt.timedelta, longest: dt.timedelta) -> None:
        target = self.lock_target(name, now)
        target.failures += 1
        target.retry_after = now + min(backoff * 2 ** (target.failures - 1), longest)
        self.session.flush()

    def record_success(self, name: str) -> None:
        self.session.execute(update(NotificationTarget).where(NotificationTarget.name == name)
                             .values(failures=0, retry_after=None))

    # -- claims ---------------------------------------------------------------------------------
    def taken_event_ids(self, channel: str) -> set[int]:
        """Events sent to the target or claimed for it."""
        return set(self.session.scalars(select(NotificationSent.event_id).where(NotificationSent.channel == channel)))

    def release_stale(self, channel: str, claimed_before: dt.datetime) -> int:
        """Claims of a delivery that never finished (its process died): free to be taken again."""
        result = self.session.execute(delete(NotificationSent).where(
            NotificationSent.channel == channel, NotificationSent.status == CLAIMED,
            NotificationSent.sent_at < claimed_before))
        return int(getattr(result, "rowcount", 0) or 0)

    def claim(self, channel: str, event_ids: Iterable[int], claim: str, now: dt.datetime) -> None:
        self.session.add_all(NotificationSent(channel=channel, event_id=i, sent_at=now, status=CLAIMED, claim=claim)
                             for i in event_ids)
        self.session.flush()

    def confirm(self, claim: str, now: dt.datetime) -> None:
        self.session.execute(update(NotificationSent).where(NotificationSent.claim == claim)
                             .values(status=SENT, sent_at=now))

    def release(self, claim: str) -> None:
        self.session.execute(delete(NotificationSent).where(NotificationSent.claim == claim,
                                                            NotificationSent.status == CLAIMED))

    def last_sent_at(self, channel: str) -> dt.datetime | None:
        return self.session.scalar(select(func.max(NotificationSent.sent_at)).where(
            NotificationSent.channel == channel, NotificationSent.status == SENT))

    def sent_count(self, channel: str) -> int:
        return int(self.session.scalar(select(func.count()).select_from(NotificationSent).where(
            NotificationSent.channel == channel, NotificationSent.status == SENT)) or 0)
