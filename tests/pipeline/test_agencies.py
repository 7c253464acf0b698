"""Each agreement's agency, with its FBI registry match (issue 9, "Registry identifiers"), on the
backfill of the 22 real workbooks, on SQLite and PostgreSQL: every agreement points at the
agency its row names, agencies get the FBI record of their name where one matched, offices
without an ORI of their own stay without one, and the same files give the same rows again
(a second backfill, ``rebuild``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from diff.registry import Registry
from storage.agencies import agency_key, registry_match
from storage.models import Agency, Agreement, AgreementVersion
from tests.commands import run
from tests.files import WORKBOOKS


def agency_rows(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    with Session(engine) as session:
        return {(a.state, a.name): {"ori": a.ori, "confidence": a.confidence, "basis": a.basis,
                                    "record": a.registry_record, "review": a.registry_review}
                for a in session.scalars(select(Agency))}


def agreements_by_agency(engine: Engine) -> dict[tuple[str, str], set[str]]:
    """Each agency's agreements, by their first key (ids may differ between databases)."""
    with Session(engine) as session:
        rows = session.execute(select(Agency.state, Agency.name, Agreement.list_name, Agreement.key)
                               .join(Agreement, Agreement.agency_id == Agency.id)).all()
    found: dict[tuple[str, str], set[str]] = {}
    for state, name, list_name, key in rows:
        found.setdefault((state, name), set()).add(f"{list_name}:{key}")
    return found


def latest_names(engine: Engine) -> dict[int, tuple[str, str, int | None]]:
    """agreement id → (state, name of its newest present version, its agency id)."""
    with Session(engine) as session:
        rows = session.execute(select(Agreement.id, Agreement.state, Agreement.agency_id, AgreementVersion.agency,
                                      AgreementVersion.key)
                               .join(AgreementVersion, AgreementVersion.agreement_id == Agreement.id)
                               .where(AgreementVersion.present.is_(True))
                               .order_by(AgreementVersion.id)).all()
    latest = {}
    for agreement_id, _, agency_id, name, key in rows:
        latest[agreement_id] = (key.split("|")[0], name or key.split("|")[1], agency_id)
    return latest


def test_every_agreement_points_at_the_agency_its_row_names(backfilled_engine):
    agencies = {}
    with Session(backfilled_engine) as session:
        for agency in session.scalars(select(Agency)):
            agencies[agency.id] = (agency.state, agency.name)
    latest = latest_names(backfilled_engine)
    assert latest and all(agency_id is not None for _, _, agency_id in latest.values())
    for state, name, agency_id in latest.values():
        assert agencies[agency_id] == agency_key(state, name)


def test_agencies_carry_their_fbi_record_where_one_matched(backfilled_engine):
    rows = agency_rows(backfilled_engine)
    alachua = rows[("FL", "ALACHUA COUNTY SHERIFFS OFFICE")]
    record = Registry.load().record("FL0010000")
    assert record is not None
    assert (alachua["ori"], alachua["confidence"], alachua["basis"]) == (
        "FL0010000", 0.95, "county sheriff by county name")
    assert (alachua["record"]["population"], alachua["record"]["officers"], alachua["record"]["county"]) == (
        record.population, record.officers, record.county)
    # offices without an ORI of their own stay without one
    for name in ("GULF COUNTY BOARD OF COMMISSIONERS", "PASCO COUNTY BOARD OF COMMISSIONERS"):
        assert rows[("FL", name)]["ori"] is None and rows[("FL", name)]["record"] is None
    assert not [key for key, row in rows.items() if row["ori"] and "COMMISSIONERS" in key[1]]
    # the agency's match is the registry's match of its name, never another record
    for (state, name), row in rows.items():
        if row["ori"]:
            match = registry_match(state, name)
            assert match is not None and match.ori == row["ori"], (state, name)
    assert sum(1 for row in rows.values() if row["ori"]) > len(rows) * 0.7


def test_one_agency_groups_its_support_models_on_both_lists(backfilled_engine):
    grouped = agreements_by_agency(backfilled_engine)
    victoria = grouped[("TX", "VICTORIA COUNTY SHERIFFS OFFICE")]
    assert {key.split("|")[-1] for key in victoria if key.startswith("participating:")} == {"JEM", "TFM", "WSO"}
    assert any(key.startswith("pending:") for key in victoria)
    assert len(grouped) == len(agency_rows(backfilled_engine))


def test_the_same_files_again_and_a_rebuild_give_the_same_agencies(backfilled_url, backfilled_engine):
    before, grouped = agency_rows(backfilled_engine), agreements_by_agency(backfilled_engine)
    assert run(backfilled_url, "backfill", str(WORKBOOKS)).exit_code == 0
    assert agency_rows(backfilled_engine) == before
    result = run(backfilled_url, "rebuild", "--yes")
    assert result.exit_code == 0, result.output
    assert agency_rows(backfilled_engine) == before
    assert agreements_by_agency(backfilled_engine) == grouped
