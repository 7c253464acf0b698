"""Row diff, renames and pending → participating transitions, on rows shaped like ICE's."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from diff.normalise import normalise_row, normalise_table
from diff.records import RawRow, SourceTable
from diff.rowdiff import by_key, content_hash, diff_lists
from diff.transitions import find_promotions

HEADER = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA")
COLUMNS = ("state", "agency", "type", "county", "model", "signed", "moa")


def row(number, state, agency, model="Task Force Model", signed=dt.date(2025, 5, 8), county="Marion County",
        moa="link", moa_url="https://www.ice.gov/doclib/287gMOA/x.pdf", kind="County"):
    cells = dict(zip(COLUMNS, (state, agency, kind, county, model, signed, moa)))
    return RawRow(number, cells, {"moa": moa_url} if moa_url else {})


def table(*rows):
    return SourceTable("Sheet1", HEADER, COLUMNS, tuple(rows))


def index(*rows):
    return by_key(normalise_table(table(*rows)).agreements)


def test_added_removed_and_unchanged_are_counted():
    before = index(row(2, "FLORIDA", "Marion County Sheriff's Office"), row(3, "TEXAS", "Goliad County Sheriff's Office"))
    after = index(row(2, "FLORIDA", "Marion County Sheriff's Office"), row(3, "GEORGIA", "Hall County Sheriff's Office"))
    result = diff_lists(before, after)
    assert [a.agency for a in result.added] == ["Hall County Sheriff's Office"]
    assert [a.agency for a in result.removed] == ["Goliad County Sheriff's Office"]
    assert result.changed == () and result.renamed == ()
    assert result.unchanged == 1


@pytest.mark.parametrize(
    ("name", "changes", "field", "old", "new"),
    [
        ("signed date", {"signed": dt.date(2025, 6, 1)}, "signed", dt.date(2025, 6, 1), dt.date(2025, 5, 8)),
        ("MOA published: 'link pending' becomes the MOA's URL", {"moa": "link pending", "moa_url": None}, "moa",
         "link pending", "https://www.ice.gov/doclib/287gMOA/x.pdf"),
        ("county filled in", {"county": "#N/A"}, "county", None, "Marion County"),
        ("type corrected", {"kind": "Municipality"}, "agency_type", "Municipality", "County"),
    ],
)
def test_field_changes_are_reported_one_by_one(name, changes, field, old, new):
    before = index(row(2, "FLORIDA", "Marion County Sheriff's Office", **changes))
    after = index(row(2, "FLORIDA", "Marion County Sheriff's Office"))
    result = diff_lists(before, after)
    assert [(c.field, c.old, c.new) for c in result.changed] == [(field, old, new)]
    assert not result.added and not result.removed
    assert len(result.revised) == 1


def test_a_field_whose_column_one_list_lacks_is_not_reported_but_still_revised():
    before = index(row(2, "FLORIDA", "Marion County Sheriff's Office", county=None))
    after = index(row(2, "FLORIDA", "Marion County Sheriff's Office"))
    fields = ("agency", "agency_type", "signed", "moa")  # the previous list had no COUNTY column
    result = diff_lists(before, after, fields=fields)
    assert result.changed == () and len(result.revised) == 1 and result.unchanged == 0


def test_cosmetic_differences_in_the_source_are_not_changes():
    before = index(row(2, "FLORIDA ", "Marion County Sheriff's Office ", model="Task Force Model "))
    after = index(row(9, "FLORIDA", "Marion County Sheriff's Office", model="Task Force Model"))
    result = diff_lists(before, after)
    assert result.is_empty and result.unchanged == 1


@pytest.mark.parametrize(
    ("old_name", "new_name", "outcome"),
    [
        ("Marion County Sheriffs Office", "Marion County Sheriff's Office", "same"),       # same key: no change at all
        ("City of Ocala Police Department", "Ocala Police Department", "respelled"),    # one canonical name (tier 2)
        ("Key Colony Beach Police Dept", "Key Colony Beach Police Departmnt", "respelled"),  # a misspelt office word
        ("Key Colony Beach Police Department", "Key Colony Bech Police Department", "renamed"),  # a typo in the place
        ("Hall County Sheriff's Office", "Hall County Jail", "separate"),                # another agency
    ],
)
def test_renames_are_proposed_only_for_the_same_agency(old_name, new_name, outcome):
    before = index(row(2, "FLORIDA", old_name))
    after = index(row(2, "FLORIDA", new_name))
    result = diff_lists(before, after)
    assert bool(result.renamed) is (outcome == "renamed")
    if outcome == "renamed":
        assert (result.renamed[0].before.agency, result.renamed[0].after.agency) == (old_name, new_name)
    if outcome == "respelled":   # one agreement whose agency field changed, matched by its canonical name
        assert [(c.field, c.old, c.new, c.basis) for c in result.changed] == [
            ("agency", old_name, new_name, "canonical_key")]
    if outcome in ("renamed", "respelled", "same"):
        assert not result.added and not result.removed
    else:
        assert len(result.added) == 1 and len(result.removed) == 1


def test_a_rename_never_crosses_states_or_models():
    before = index(row(2, "FLORIDA", "City of Ocala Police Department"))
    after = index(row(2, "GEORGIA", "Ocala Police Department"), row(3, "FLORIDA", "Ocala Police Department",
                                                                    model="Warrant Service Officer"))
    result = diff_lists(before, after)
    assert result.renamed == ()
    # Georgia's is another agency; Florida's, with the same signing date under another model, is
    # the same agreement relabelled (tier 3), never a rename proposal
    assert [a.key.state for a in result.added] == ["GA"] and result.removed == ()
    assert [(c.field, c.basis) for c in result.changed if c.field != "agency"] == [
        ("support_type", "support_type_corrected")]


def test_content_hash_ignores_row_order_and_file_but_not_values():
    rows = [row(2, "FLORIDA", "Marion County Sheriff's Office"), row(3, "TEXAS", "Goliad County Sheriff's Office")]
    first = normalise_table(table(*rows)).agreements
    reordered = normalise_table(table(row(2, *_args(rows[1])), row(3, *_args(rows[0])))).agreements
    changed = normalise_table(table(rows[0], row(3, "TEXAS", "Goliad County Sheriff's Office",
                                                 signed=dt.date(2025, 5, 9)))).agreements
    assert content_hash(first) == content_hash(reordered)
    assert content_hash(first) != content_hash(changed)


def _args(raw: RawRow):
    return raw.cells["state"], raw.cells["agency"]


def test_promotions_match_pending_entries_strictly_first():
    pending = normalise_table(table(
        row(2, "ALABAMA", "Houston County Sheriff's Office", model="Jail Enforcement Model"),
        row(3, "ALABAMA", "Lanett Police Department", model="Task Force Model"),
        row(4, "TEXAS", "Frio County Sheriff's Office"),
    )).agreements
    added = normalise_table(table(
        row(2, "ALABAMA", "Houston County Sheriff's Office", model="Jail Enforcement Model"),
        row(3, "ALABAMA", "Lanett Police Department", model="Warrant Service Officer"),
        row(4, "GEORGIA", "Hall County Sheriff's Office"),
    )).agreements
    promotions = {p.participating.agency: p.basis for p in find_promotions(added, pending)}
    assert promotions == {
        "Houston County Sheriff's Office": "same state, agency and support model",
        "Lanett Police Department": "same state and agency, other support model",
    }


def test_promotions_key_no_row_when_there_is_nothing_left_to_match(monkeypatch):
    """The loosest rule's name key is made only for rows still unmatched, and only when there
    are pending entries at all (the pending list's own diffs have none)."""
    import diff.transitions

    loosened: list[str] = []
    loose = diff.transitions.agency_loose
    monkeypatch.setattr(diff.transitions, "agency_loose", lambda name: loosened.append(name) or loose(name))
    first = [row(2, "ALABAMA", "Houston County Sheriff's Office", model="Jail Enforcement Model"),
             row(3, "TEXAS", "Frio County Sheriff's Office")]
    pending, added = normalise_table(table(*first)).agreements, normalise_table(table(*first)).agreements
    assert find_promotions(added, []) == [] and loosened == []
    assert [p.basis for p in find_promotions(added, pending)] == ["same state, agency and support model"] * 2
    assert loosened == []
    renamed = normalise_table(table(row(2, "TEXAS", "Frio County Sheriff's Department"))).agreements
    assert [p.participating for p in find_promotions(renamed, pending[1:])] == list(renamed)
    assert loosened != []


def test_a_single_row_normalises_to_its_key():
    agreement = normalise_row(row(7, "PENNSLYVANIA ", "St. Johns County Sheriff's Office", model="Jail Enforcment Model"))
    assert (agreement.key.state, agreement.key.model, agreement.row_number) == ("PA", "JEM", 7)


# -- the compact agreement: fingerprint and raw texts, on real workbooks ----------------------------

def _real(name: str):
    from crawler.workbook import read_workbook
    from tests.files import workbook

    return normalise_table(read_workbook(workbook(name).read_bytes())).agreements


def test_each_compared_field_changes_the_fingerprint_and_nothing_else_does():
    import dataclasses

    from diff.records import Agreement

    agreement = next(a for a in _real("participatingAgencies05292025am.xlsx") if a.moa_url)
    for name in Agreement.COMPARED_FIELDS:
        edited = dataclasses.replace(agreement, **{name: f"{getattr(agreement, name)} (edited)"})
        assert edited.fingerprint != agreement.fingerprint, name
        assert diff_lists({"k": agreement}, {"k": edited}).revised == ((agreement, edited),), name
    moved = dataclasses.replace(agreement, row_number=agreement.row_number + 1, notes=("a note",),
                                raw={**agreement.raw, "county": "elsewhere"})
    assert moved.fingerprint == agreement.fingerprint
    assert diff_lists({"k": agreement}, {"k": moved}).unchanged == 1


def test_agreements_read_alike_after_a_process_boundary():
    """Pickled (as the bench caches rows, or a child process would send them), an agreement is
    equal to itself, its raw texts read as the dict the cleaning made, in the same order, and a
    diff against the unpickled list finds what the diff of the lists themselves finds."""
    import pickle

    before = _real("participatingAgencies05282025am.xlsx")
    after = _real("participatingAgencies07012025pm.xlsx")
    copied = pickle.loads(pickle.dumps(before, pickle.HIGHEST_PROTOCOL))
    assert copied == before
    assert all(list(c.raw.items()) == list(a.raw.items()) and c.raw == dict(a.raw) for c, a in zip(copied, before))
    assert all(c.fingerprint == a.fingerprint for c, a in zip(copied, before))
    direct = diff_lists(by_key(before), by_key(after))
    assert direct.changed and direct.added and direct.removed      # two real lists five weeks apart
    assert diff_lists(by_key(copied), by_key(after)) == direct


def test_content_hash_is_the_hash_of_each_rows_key_and_values_as_written():
    """The fingerprint of a list is the SHA-256 of its rows' key texts and compared values, one
    line each in sorted order: a cached text of the values (content_hash keeps one per distinct
    values) gives the very same lines on every real workbook of the fixtures, read twice; a
    datetime in place of the signing date is written as a datetime."""
    import hashlib

    from crawler.workbook import read_workbook
    from tests.files import all_workbooks

    def as_written(agreements):
        lines = sorted(f"{a.key.as_text()}\x1f{a.compared_values()!r}" for a in agreements)
        return hashlib.sha256("".join(f"{line}\n" for line in lines).encode("utf-8")).hexdigest()

    for _ in range(2):
        for path in all_workbooks():
            agreements = normalise_table(read_workbook(path.read_bytes())).agreements
            assert content_hash(agreements) == as_written(agreements), path.name
    dated = normalise_table(table(row(2, "FLORIDA", "Marion County Sheriff's Office"))).agreements
    timed = [dataclasses.replace(a, signed=dt.datetime(2025, 5, 8)) for a in dated]
    assert content_hash(timed) == as_written(timed) != content_hash(dated)
