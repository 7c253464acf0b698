"""Leases: which replica of the service may run a source (or a service-wide job) right now.

A lease is one row per claim name, held by one replica until it expires.  Taking one is a
single conditional UPDATE (or an INSERT that does nothing on conflict), so two replicas racing
for a claim cannot both win, on PostgreSQL and SQLite alike.  The holder renews it while its
work lasts; a replica that dies stops renewing and loses the claim when it expires.

Times come from the database's clock on PostgreSQL (replicas on several hosts then agree on
what "expired" means); SQLite has one process by rule and uses the process clock.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from typing import Any, cast

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Lease
from storage.types import utcnow


def replica_name() -> str:
    """This process's name as a holder of leases: host, process id and a random tag (a process
    id alone repeats after a restart, in a container say)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def source_lease(source_id: str) -> str:
    return f"source:{source_id}"


def job_lease(job: str) -> str:
    return f"job:{job}"


class LeaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def now(self) -> dt.datetime:
        """The time leases are compared with: the database server's clock on PostgreSQL."""
        if self.session.get_bind().dialect.name == "postgresql":
            value = self.session.scalar(select(func.clock_timestamp()))
            assert value is not None
            return cast(dt.datetime, value).astimezone(dt.UTC)
        return utcnow()

    def acquire(self, name: str, holder: str, duration: dt.timedelta) -> bool:
        """Take (or renew) the claim ``name`` for ``duration`` unless another holder has it and it
        has not expired.  True when ``holder`` now holds it."""
        now = self.now()
        taken = self.session.execute(
            update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, acquired_at=now, expires_at=now + duration).returning(Lease.name)
            .execution_options(synchronize_session=False)).first()
        if taken is not None:
            return True
        dialect = self.session.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        inserted = self.session.scalar(
            insert(Lease).values(name=name, holder=holder, acquired_at=now, expires_at=now + duration)
            .on_conflict_do_nothing(index_elements=["name"]).returning(Lease.name))
        return inserted is not None

    def renew(self, name: str, holder: str, duration: dt.timedelta) -> bool:
        """Push the claim's expiry on; False when ``holder`` no longer holds it (it expired and
        another replica took it)."""
        now = self.now()
        return self.session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=now + duration).returning(Lease.name)
            .execution_options(synchronize_session=False)).first() is not None

    def release(self, name: str, holder: str) -> None:
        self.session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder)
                             .execution_options(synchronize_session=False))

    def release_all(self) -> None:
        """Drop every claim (SQLite, where the one service process holding the file lock knows
        that every other holder is gone)."""
        self.session.execute(delete(Lease).execution_options(synchronize_session=False))

    def live(self) -> dict[str, str]:
        """Claim name -> holder, for the claims that have not expired."""
        now = self.now()
        return {lease.name: lease.holder for lease in self.session.scalars(
            select(Lease).where(Lease.expires_at > now)).all()}
