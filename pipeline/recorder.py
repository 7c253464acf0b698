"""The one writer of fetch attempts, for list crawls and news crawls alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.fetches import FetchRepository
from storage.models import FetchAttempt


@dataclass(frozen=True)
class FetchRecorder:
    """Records fetch attempts tagged with a source and a run.

    Without a session each attempt is its own transaction (a failure must stay recorded
    whatever happens next); with one it joins the caller's transaction.
    """

    engine: Engine
    source_id: str
    run_id: int | None = None

    def record(self, session: Session | None = None, **fields: Any) -> FetchAttempt:
        """One attempt; fields that are None are left to the column defaults."""
        fields = {key: value for key, value in fields.items() if value is not None}
        if session is not None:
            return FetchRepository(session).record_fetch(source=self.source_id, run_id=self.run_id, **fields)
        with Session(self.engine, expire_on_commit=False) as own, own.begin():
            return FetchRepository(own).record_fetch(source=self.source_id, run_id=self.run_id, **fields)

    def failure(self, url: str, stage: str, error: str, *, http_status: int | None = None, **fields: Any) -> None:
        self.record(url=url, http_status=http_status, outcome="failed", error=f"{stage}: {error}", **fields)
