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
