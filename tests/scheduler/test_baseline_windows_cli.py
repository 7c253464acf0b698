"""`tracker287g baseline` on the real lists: the figures dated to 16-28 February 2026 are set
against every participating list in force during that window, not only the one of its last day."""

from __future__ import annotations

import json

import pytest

from tests.commands import run


@pytest.fixture(scope="module")
def db(backfill_templates, tmp_path_factory) -> str:
    """A copy of the session's backfill of the 22 real workbooks (conftest); read only."""
    return backfill_templates.sqlite_copy(tmp_path_factory.mktemp("windows") / "windows.sqlite")


def test_window_figures_against_the_lists_in_force(db):
    document = json.loads(run(db, "baseline", "--format", "json").output)
    windows = {w["figure"]["id"]: w for w in document["windows"]}
    biden_term = windows.pop("local-agencies-trained-officers-biden-term")    # 2021-2025: before any list held
    assert biden_term["lists"] == [] and biden_term["reason"].startswith("predates the earliest list we hold")
    # the six seed figures dated to the article's window that the participating list measures
    assert set(windows) == {"states-with-agreements", "agreements-fl", "agreements-tx", "agreements-tn",
                            "agreements-al", "agreements-pa"}
    snapshots = {s["file_name"]: s for s in json.loads(run(db, "snapshots", "--list", "participating",
                                                            "--format", "json").output)["snapshots"]}
    february = snapshots["participatingAgencies02022026am.xlsx"]
    for window in windows.values():
        assert window["window"] == {"start": "2026-02-16", "end": "2026-02-28"}
        # of the lists held, the one of 2026-02-02 stood until 2026-03-02: all 13 days of the window
        [standing] = window["lists"]
        assert (standing["snapshot_id"], standing["days_in_force"], standing["days_apart"]) == (february["id"], 13, -14)
        assert window["nearest"]["measured"] == standing["measured"]
        assert window["range"] == {"low": standing["measured"], "high": standing["measured"]}
        assert standing["delta"] == standing["measured"] - window["figure"]["value"]
    assert windows["agreements-tn"]["nearest"]["delta"] == 0          # 63 agreements in Tennessee
    assert windows["states-with-agreements"]["nearest"]["delta"] == 0  # 39 states
    table = run(db, "baseline")
    assert table.exit_code == 0 and "Figures dated to a window" in table.output
