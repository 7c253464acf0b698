"""Review workflow on the real workbooks: decisions persist, filter the change log, and a
confirmed rename carries forward into later diffs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from crawler.workbook import read_workbook
from diff.normalise import normalise_table
from diff.rowdiff import diff_lists
from storage.lists import ListRepository
from tests.commands import changes, run
from tests.files import workbook

# A rename proposal (identity tier 4) of the real workbooks: participatingAgencies05292025am lists
# "Tennessee Department of Safety and Homeland Security / THP" as "Tennessee Department of Safety
# and Homeland Security".  (The earlier example here, TX "Office of the Attorney General" →
# "Texas Office of the Attorney General", is now a re-spelling of one agreement, tier 2: the
# state's name before a state office is dropped by diff.agency_names.canonical, and no longer
# proposed as a rename.)
OLD_NAME = "Tennessee Department of Safety and Homeland Security / THP"
NEW_NAME = "Tennessee Department of Safety and Homeland Security"
OLD_KEY = "TN|TENNESSEE DEPARTMENT OF SAFETY AND HOMELAND SECURITY THP|TFM"
NEW_KEY = "TN|TENNESSEE DEPARTMENT OF SAFETY AND HOMELAND SECURITY|TFM"
LATEST = "participatingAgencies05142026am.xlsx"


@pytest.fixture
def backfilled(backfilled_url) -> str:
    """A copy of the session's backfill of the 22 real workbooks (conftest)."""
    return backfilled_url


def test_a_decision_persists_and_filters_the_change_log(backfilled):
    renamed = changes(backfilled, "--kind", "agreement.renamed")
    target = next(c for c in renamed if c["subject_key"] == NEW_KEY)
    assert target["review"] is None
    result = run(backfilled, "review", str(target["id"]), "--status", "rename", "--note", "same department, the patrol's initials dropped",
                 "--reviewer", "desk")
    assert result.exit_code == 0, result.output
    assert f"{OLD_KEY} -> {NEW_KEY}" in result.output

    reviewed = changes(backfilled, "--review-status", "rename")
    assert [c["id"] for c in reviewed] == [target["id"]]
    assert reviewed[0]["review"] | {"decided_at": None} == {
        "status": "rename", "note": "same department, the patrol's initials dropped", "reviewer": "desk", "decided_at": None,
        "from_key": OLD_KEY, "to_key": NEW_KEY}
    everything, unreviewed = changes(backfilled), changes(backfilled, "--review-status", "unreviewed")
    assert len(unreviewed) == len(everything) - 1 and target["id"] not in {c["id"] for c in unreviewed}

    # a later decision supersedes the earlier one
    assert run(backfilled, "review", str(target["id"]), "--status", "confirmed").exit_code == 0
    assert changes(backfilled, "--review-status", "rename") == []
    assert [c["id"] for c in changes(backfilled, "--review-status", "confirmed")] == [target["id"]]


def test_a_rename_needs_two_keys_and_an_event_must_exist(backfilled):
    added = changes(backfilled, "--kind", "agreement.added")[0]
    result = run(backfilled, "review", str(added["id"]), "--status", "rename")
    assert result.exit_code == 1 and "give --from-key and --to-key" in result.output
    assert run(backfilled, "review", "999999", "--status", "confirmed").exit_code == 1
    assert run(backfilled, "review", str(added["id"])).exit_code == 2      # --status is required


def test_interactive_review_prompts_per_event(backfilled):
    pending = changes(backfilled, "--kind", "agreement.renamed", "--review-status", "unreviewed")
    result = run(backfilled, "review", "--kind", "agreement.renamed", "--reviewer", "desk",
                 input="false_positive\ntwo different offices\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert pending[0]["summary"] in result.output and "1 decision(s) recorded" in result.output
    decided = changes(backfilled, "--review-status", "false_positive")
    assert [c["id"] for c in decided] == [pending[0]["id"]]
    assert decided[0]["review"]["note"] == "two different offices"
    assert decided[0]["review"]["reviewer"] == "desk"


def test_a_confirmed_rename_is_applied_to_later_diffs(backfilled, backfilled_engine, edit_workbook):
    target = next(c for c in changes(backfilled, "--kind", "agreement.renamed") if c["subject_key"] == NEW_KEY)
    assert run(backfilled, "review", str(target["id"]), "--status", "rename").exit_code == 0
    # ICE flips the name back, then forward again
    back = edit_workbook(LATEST, "participatingAgencies06012026am.xlsx",
                         {f"{NEW_NAME} ": OLD_NAME})   # the cell ends with a space
    forth = edit_workbook(LATEST, "participatingAgencies06152026am.xlsx", {})
    for path, listed in ((back, OLD_KEY), (forth, NEW_KEY)):
        before = {c["id"] for c in changes(backfilled)}
        result = run(backfilled, "backfill", str(path), "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["files"][0]["status"] == "accepted"
        new = [c for c in changes(backfilled) if c["id"] not in before]
        about_pair = [c for c in new if {c["subject_key"], c["evidence"].get("previous_key")} & {OLD_KEY, NEW_KEY}]
        assert about_pair == [], about_pair
        with Session(backfilled_engine) as session:
            current = ListRepository(session).current_agreements("participating")
        assert listed in current and ({OLD_KEY, NEW_KEY} - {listed}).isdisjoint(current)


def test_without_the_review_the_same_flip_is_proposed_as_a_rename():
    """The control for the test above, on the same real rows: the alias is what removes the proposal."""
    rows = normalise_table(read_workbook(workbook(LATEST).read_bytes())).agreements
    current = {a.key.as_text(): a for a in rows}
    assert NEW_KEY in current
    flipped = dict(current)
    renamed = flipped.pop(NEW_KEY)
    import dataclasses

    from diff.records import AgreementKey

    old = dataclasses.replace(renamed, key=AgreementKey.from_text(OLD_KEY), agency=OLD_NAME)
    flipped[OLD_KEY] = old
    plain = diff_lists(current, flipped)
    assert [(r.before.key.as_text(), r.after.key.as_text()) for r in plain.renamed] == [(NEW_KEY, OLD_KEY)]
    aliased = diff_lists(current, flipped, aliases={frozenset((OLD_KEY, NEW_KEY))})
    assert (aliased.added, aliased.removed, aliased.renamed) == ((), (), ())
