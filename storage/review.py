"""Review decisions on change events, and what notifications have been sent.

Both tables are append-only: a later decision on the same event supersedes an earlier one
(the history of decisions is kept), and a ledger row says one event went out on one channel.
Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, utcnow

REVIEW_STATUSES = ("confirmed", "false_positive", "rename", "source_error")


class ReviewDecision(Base):
    """One person's decision on one change event; ``rename`` links two agreement keys."""

    __tablename__ = "review_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("change_event.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # for status "rename": the list and the two keys that name one agreement
    list_name: Mapped[str | None] = mapped_column(String(20))
    from_key: Mapped[str | None] = mapped_column(Text)
    to_key: Mapped[str | None] = mapped_column(Text)


class NotificationSent(Base):
    """One change event delivered on one channel (``webhook`` or ``email``): never sent twice."""

    __tablename__ = "notification_sent"
    __table_args__ = (UniqueConstraint("channel", "event_id", name="uq_notification_channel_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[int] = mapped_column(ForeignKey("change_event.id"))
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def add_decision(session: Session, event_id: int, status: str, *, note: str | None = None,
                 reviewer: str | None = None, list_name: str | None = None, from_key: str | None = None,
                 to_key: str | None = None) -> ReviewDecision:
    if status not in REVIEW_STATUSES:
        raise ValueError(f"unknown review status {status!r}: expected one of {', '.join(REVIEW_STATUSES)}")
    if status == "rename" and not (list_name and from_key and to_key and from_key != to_key):
        raise ValueError("a rename links two different agreement keys of one list")
    decision = ReviewDecision(event_id=event_id, status=status, note=note, reviewer=reviewer,
                              list_name=list_name if status == "rename" else None,
                              from_key=from_key if status == "rename" else None,
                              to_key=to_key if status == "rename" else None)
    session.add(decision)
    session.flush()
    return decision


def latest_decisions(session: Session, event_ids: Iterable[int] | None = None) -> dict[int, ReviewDecision]:
    """The decision in force for each reviewed event (the newest), by event id."""
    newest = select(func.max(ReviewDecision.id)).group_by(ReviewDecision.event_id)
    query = select(ReviewDecision).where(ReviewDecision.id.in_(newest))
    decisions = {d.event_id: d for d in session.scalars(query)}
    if event_ids is None:
        return decisions
    return {i: decisions[i] for i in event_ids if i in decisions}


def confirmed_aliases(session: Session, list_name: str) -> frozenset[frozenset[str]]:
    """Pairs of keys a reviewer confirmed as one agreement (a rename), in force on the list."""
    return frozenset(
        frozenset((d.from_key, d.to_key))
        for d in latest_decisions(session).values()
        if d.status == "rename" and d.list_name == list_name
    )


def sent_event_ids(session: Session, channel: str) -> set[int]:
    return set(session.scalars(select(NotificationSent.event_id).where(NotificationSent.channel == channel)))


def last_sent_at(session: Session, channel: str) -> dt.datetime | None:
    return session.scalar(select(func.max(NotificationSent.sent_at)).where(NotificationSent.channel == channel))


def record_sent(session: Session, channel: str, event_ids: Iterable[int]) -> None:
    now = utcnow()
    session.add_all(NotificationSent(channel=channel, event_id=i, sent_at=now) for i in event_ids)
    session.flush()
