"""Leases on SQLite and PostgreSQL: one holder at a time, expiry, takeover, and the runs a dead
holder left behind."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.leases import LeaseRepository, source_lease
from storage.models import CrawlRun, Lease
from storage.runs import RunRepository

MINUTE = dt.timedelta(minutes=1)


def acquire(engine, name, holder, duration=MINUTE) -> bool:
    with Session(engine) as session, session.begin():
        return LeaseRepository(session).acquire(name, holder, duration)


def expire(engine, name) -> None:
    """What the passing of time does to a lease nobody renews."""
    with Session(engine) as session, session.begin():
        session.execute(update(Lease).where(Lease.name == name)
                        .values(expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))


def test_one_holder_at_a_time_until_the_lease_expires(engine):
    assert acquire(engine, "source:ice_287g", "host-a:1:aa")
    assert acquire(engine, "source:ice_287g", "host-a:1:aa")          # the holder renews by taking it again
    assert not acquire(engine, "source:ice_287g", "host-b:2:bb")      # the other replica gives way
    assert acquire(engine, "source:other", "host-b:2:bb")             # claims are per name
    expire(engine, "source:ice_287g")
    assert acquire(engine, "source:ice_287g", "host-b:2:bb")          # a dead holder's claim is taken over
    with Session(engine) as session, session.begin():
        leases = LeaseRepository(session)
        assert not leases.renew("source:ice_287g", "host-a:1:aa", MINUTE)   # the old holder learns it lost it
        assert leases.renew("source:ice_287g", "host-b:2:bb", MINUTE)
        assert leases.live() == {"source:ice_287g": "host-b:2:bb", "source:other": "host-b:2:bb"}
        leases.release("source:ice_287g", "host-a:1:aa")              # not its holder: nothing happens
        leases.release("source:other", "host-b:2:bb")
        assert leases.live() == {"source:ice_287g": "host-b:2:bb"}


def test_a_run_is_closed_only_once_its_replica_lost_the_lease(engine):
    acquire(engine, source_lease("a"), "live:1:aa")
    acquire(engine, source_lease("b"), "dead:2:bb")
    with Session(engine) as session, session.begin():
        runs = RunRepository(session)
        runs.ensure_source_states(["a", "b", "c"])
        live = runs.start_run("a", 1, "live:1:aa").id
        dead = runs.start_run("b", 2, "dead:2:bb").id
        legacy = runs.start_run("c", 3).id                            # from before replicas were named
    with Session(engine) as session, session.begin():
        closed = RunRepository(session).close_orphaned_runs(LeaseRepository(session).live(), "gone")
    assert closed == [legacy]                                         # b's lease has not expired yet
    expire(engine, source_lease("b"))
    with Session(engine) as session, session.begin():
        closed = RunRepository(session).close_orphaned_runs(LeaseRepository(session).live(), "gone")
    assert closed == [dead]
    with Session(engine) as session:
        assert session.get(CrawlRun, live).outcome == "running"
        assert session.get(CrawlRun, dead).outcome == "interrupted"
