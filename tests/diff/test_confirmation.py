"""Provisional → confirmed or reverted, on events shaped like real ones of the 2025 history."""

from __future__ import annotations

import datetime as dt

import pytest

from diff.confirmation import (
    DEFAULT_CONFIRMATION,
    ConfirmationRule,
    OpenEvent,
    batch_reversals,
    due,
    reversals,
)

KEY = "TX|SOUTHSIDE PLACE POLICE DEPARTMENT|TFM"


def event(event_id: int, kind: str, snapshot_id: int, day: int, key: str = KEY, field: str | None = None,
          old: str | None = None, new: str | None = None, agreement: int | None = None) -> OpenEvent:
    return OpenEvent(event_id, kind, key, field, old, new, snapshot_id, dt.date(2025, 8, day), agreement)


# participatingAgencies08022025pm re-spells Escambia County's board (FL, WSO), 08042025pm spells it
# back: one agreement (id 7) whose change event names its key after each change
BOARD = "Escambia County Board of County Commissioners"
BOARD_DOC = "Escambia County Board of County Commissioners/ Department of Corrections"
BOARD_KEY = "FL|ESCAMBIA COUNTY BOARD OF COUNTY COMMISSIONERS|WSO"
BOARD_DOC_KEY = "FL|ESCAMBIA COUNTY BOARD OF COUNTY COMMISSIONERS DEPARTMENT OF CORRECTIONS|WSO"


def test_a_removal_undoes_the_addition_and_its_promotion():
    added, promoted = event(1, "agreement.added", 10, 2), event(2, "agreement.promoted", 10, 2)
    removed = event(3, "agreement.removed", 11, 4)
    assert reversals([added, promoted], [removed]) == [(added, removed), (promoted, removed)]


@pytest.mark.parametrize(
    ("name", "earlier", "new", "undone"),
    [
        ("removed, then listed again", event(1, "agreement.removed", 10, 4), event(2, "agreement.added", 11, 29),
         True),
        ("field changed and back", event(1, "agreement.changed", 10, 18, field="moa", old="link pending", new="u"),
         event(2, "agreement.changed", 11, 27, field="moa", old="u", new="link pending"), True),
        ("field changed again, not back", event(1, "agreement.changed", 10, 18, field="moa", old="a", new="b"),
         event(2, "agreement.changed", 11, 27, field="moa", old="b", new="c"), False),
        ("another field", event(1, "agreement.changed", 10, 18, field="county", old="a", new="b"),
         event(2, "agreement.changed", 11, 27, field="moa", old="b", new="a"), False),
        ("another agreement", event(1, "agreement.added", 10, 2), event(2, "agreement.removed", 11, 4, key="TX|X|JEM"),
         False),
        ("re-spelt and back: one agreement under two keys",
         event(1, "agreement.changed", 10, 2, BOARD_DOC_KEY, "agency", BOARD, BOARD_DOC, agreement=7),
         event(2, "agreement.changed", 11, 4, BOARD_KEY, "agency", BOARD_DOC, BOARD, agreement=7), True),
        ("the same spellings, another agreement",
         event(1, "agreement.changed", 10, 2, BOARD_DOC_KEY, "agency", BOARD, BOARD_DOC, agreement=7),
         event(2, "agreement.changed", 11, 4, BOARD_DOC_KEY, "agency", BOARD_DOC, BOARD, agreement=8), False),
        ("added twice is no reversal", event(1, "agreement.added", 10, 2), event(2, "agreement.added", 11, 4), False),
    ],
)
def test_what_undoes_what(name, earlier, new, undone):
    assert reversals([earlier], [new]) == ([(earlier, new)] if undone else [])


def test_confirmed_after_enough_lists_and_hours():
    rule = ConfirmationRule(snapshots=2, hours=7 * 24)
    removed = event(1, "agreement.removed", 10, 4)
    assert due([removed], {10: 1}, dt.date(2025, 8, 29), rule) == []         # one list since
    assert due([removed], {10: 2}, dt.date(2025, 8, 10), rule) == []         # six days
    assert due([removed], {10: 2}, dt.date(2025, 8, 11), rule) == [1]
    assert DEFAULT_CONFIRMATION["participating"].snapshots >= 1


def test_rules_are_validated():
    with pytest.raises(ValueError, match="snapshots"):
        ConfirmationRule(snapshots=0, hours=1)
    with pytest.raises(ValueError, match="hours"):
        ConfirmationRule(snapshots=1, hours=-1)


def test_a_batch_is_a_large_share_of_one_lists_changes_of_one_kind():
    # 2025-08-04: 76 of the 89 additions of 08-02 withdrawn
    added = [event(n, "agreement.added", 10, 2, key=f"K{n}") for n in range(76)]
    removed = [event(100 + n, "agreement.removed", 11, 4, key=f"K{n}") for n in range(76)]
    pairs = reversals(added, removed)
    [batch] = batch_reversals(pairs, {10: {"agreement.added": 89, "agreement.changed": 94}})
    assert (batch.reverted_snapshot_id, batch.undone, batch.total_undone) == (10, {"agreement.added": 76}, 76)
    # nine undone, or a small share of a big list's changes: no batch
    assert batch_reversals(pairs[:9], {10: {"agreement.added": 9}}) == []
    assert batch_reversals(pairs[:20], {10: {"agreement.added": 89}}) == []
