"""The ``tracker287g`` command line, run in-process as a user would (click's CliRunner)."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from scheduler.cli import main


def run(db: str | None, *args: str, **kwargs: Any) -> Result:
    """``tracker287g [--db DB] ARGS...``."""
    return CliRunner().invoke(main, [*(["--db", db] if db else []), *args], **kwargs)


def changes(db: str, *args: str) -> list[dict[str, Any]]:
    """The change log as `changes --format json` gives it."""
    result = run(db, "changes", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["changes"]


def expected_timeline(log: list, agreements: set) -> list:
    """The change log's events for an agency's agreements ((list, key) pairs): its own, and the
    renames and promotions that name one of them as the earlier key.  An agreement keeps its id
    when ICE re-spells it, so its events are those under every key it had in the log."""
    keys: dict[int, set] = {}
    for c in log:
        if c.get("agreement_id") is not None and c["subject_key"]:
            keys.setdefault(c["agreement_id"], set()).add((c["list"], c["subject_key"]))
    agreements = set(agreements)
    for had in list(keys.values()):
        if had & agreements:
            agreements |= had

    def names_one(c) -> bool:
        evidence = c["evidence"] or {}
        return bool({(c["list"], c["subject_key"]), (c["list"], evidence.get("previous_key")),
                     ("pending", evidence.get("pending_key"))} & agreements)
    return [c["id"] for c in log if not c["kind"].startswith("news.") and names_one(c)]
