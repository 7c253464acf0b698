"""Agencies: the agency of each agreement, with its FBI registry match, and the review of matches.

An agency is one row per state and canonical name (``diff.agency_names.canonical``): the
agreements of one agency (its support models, on either list) point at it.  Its registry match
(``diff.registry``) is the best one its names gave, by confidence (a later name only replaces
the match when it finds the same ORI with more confidence: the first ORI found stays), so the
same documents ingested in the same order give the same rows.  Offices without an ORI of their
own (boards, departments of corrections, attorneys' offices, jails) stay without one.

A reviewer may accept or reject a match (``RegistryDecision``).  Decisions name the agency and
the ORI and are kept apart from the agency rows, so they carry forward: a rejected match is
rejected again when a later list or ``rebuild`` matches that agency to that ORI.  A rejected
match leaves the agency without ``ori``, ``confidence`` and ``basis`` (its ``registry_record``
keeps what was rejected, for the reviewer).

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from sqlalchemy import JSON, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from diff.agency_names import canonical
from diff.registry import Registry, RegistryMatch
from storage.models import REGISTRY_REVIEW_STATUSES, Agency, Agreement, RegistryDecision, table_of

AgencyKey = tuple[str, str]      # (state, canonical name)
CHUNK = 500
_AGENCY = table_of(Agency)
_DECISIONS = table_of(RegistryDecision)
_AGREEMENTS = table_of(Agreement)
_AGENCY_OF_AGREEMENTS = (select(_AGREEMENTS.c.id, _AGREEMENTS.c.agency_id)
                         .where(_AGREEMENTS.c.id.in_(bindparam("ids", expanding=True))))
_DECISIONS_IN_FORCE = (
    select(_DECISIONS.c.state, _DECISIONS.c.agency_name, _DECISIONS.c.ori, _DECISIONS.c.status)
    .where(_DECISIONS.c.id.in_(select(func.max(_DECISIONS.c.id))
                               .group_by(_DECISIONS.c.state, _DECISIONS.c.agency_name, _DECISIONS.c.ori)))
)
_DECISIONS_MEMO = "tracker287g.registry_decisions"
_AGENCY_ROWS = (select(_AGENCY.c.id, _AGENCY.c.state, _AGENCY.c.name, _AGENCY.c.registry_record, _AGENCY.c.ori,
                       _AGENCY.c.confidence, _AGENCY.c.basis, _AGENCY.c.registry_review)
                .where(_AGENCY.c.name.in_(bindparam("names", expanding=True))))
# None is SQL NULL, as the ORM leaves an attribute never set (a JSON column would write 'null')
_RECORD = bindparam("b_record", type_=JSON(none_as_null=True))
_INSERT_AGENCY = insert(_AGENCY).values(registry_record=_RECORD).returning(
    _AGENCY.c.id, _AGENCY.c.state, _AGENCY.c.name, sort_by_parameter_order=True)
_UPDATE_AGENCY = (update(_AGENCY).where(_AGENCY.c.id == bindparam("b_id"))
                  .values(registry_record=_RECORD, ori=bindparam("b_ori"), confidence=bindparam("b_confidence"),
                          basis=bindparam("b_basis"), registry_review=bindparam("b_registry_review")))


def agency_key(state: str, name: str) -> AgencyKey:
    """The agency a row names: its state and the canonical form of its name."""
    return state, canonical(name, state) or name.upper()


def registry_match(state: str, name: str) -> RegistryMatch | None:
    """The FBI record of one agency name (none for an unreadable state)."""
    return Registry.load().match(state, name) if state.isalpha() else None


_MATCH_FIELDS = tuple(f.name for f in fields(RegistryMatch))


def _record(match: RegistryMatch) -> dict[str, Any]:
    # dataclasses.asdict, without its deep copy of each (flat, immutable) value
    return {name: getattr(match, name) for name in _MATCH_FIELDS}


class AgencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- linking ------------------------------------------------------------------------------
    def link(self, names: Mapping[int, tuple[str, str]]) -> dict[int, int]:
        """Point each agreement (id → its row's state and agency name) at its agency, creating
        agencies and finding their registry match as needed.  Returns agreement id → agency id."""
        if not names:
            return {}
        by_agency: dict[AgencyKey, list[str]] = {}
        of_agreement: dict[int, AgencyKey] = {}
        for agreement_id, (state, name) in sorted(names.items()):
            key = agency_key(state, name)
            of_agreement[agreement_id] = key
            spellings = by_agency.setdefault(key, [])
            if name not in spellings:
                spellings.append(name)
        # Core rows, not Agency objects: an ingest links hundreds of agreements and the ORM's
        # unit of work cost more than the statements (new agencies get their ids in this order)
        known = self._agency_rows(by_agency)
        in_force = self.decision_statuses()
        # the decisions on agencies that existed before (a new agency starts without one)
        decisions = {k: status for k, status in in_force.items() if (k[0], k[1]) in known}
        ids = {key: row["id"] for key, row in known.items()}
        new_rows: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for key, spellings in by_agency.items():
            row = known.get(key)
            record = row["registry_record"] if row is not None else None
            best = _best(record, [registry_match(key[0], name) for name in spellings])
            if best is not None and best != record:
                record = best
            ori = str((record or {}).get("ori") or "")
            reviewed = _reviewed(record, decisions.get((key[0], key[1], ori)))
            if row is None:
                new_rows.append({"state": key[0], "name": key[1], "b_record": record, **reviewed})
            elif record != row["registry_record"] or any(row[k] != v for k, v in reviewed.items()):
                changed.append({"b_id": row["id"], "b_record": record, **{f"b_{k}": v for k, v in reviewed.items()}})
        connection = self.session.connection()
        if new_rows:
            inserted = connection.execute(_INSERT_AGENCY, new_rows)
            ids.update(((state, name), agency_id) for agency_id, state, name in inserted)
        if changed:
            connection.execute(_UPDATE_AGENCY, changed)
        wanted = {agreement_id: ids[key] for agreement_id, key in of_agreement.items()}
        self._set_agreement_agencies(wanted)
        return wanted

    def _agency_rows(self, keys: Iterable[AgencyKey]) -> dict[AgencyKey, dict[str, Any]]:
        """The agencies of ``keys`` that exist, as column values by (state, name)."""
        keys = sorted(set(keys))
        wanted = set(keys)
        found: dict[AgencyKey, dict[str, Any]] = {}
        for start in range(0, len(keys), CHUNK):
            names = sorted({name for _, name in keys[start:start + CHUNK]})
            for row in self.session.connection().execute(_AGENCY_ROWS, {"names": names}).mappings():
                if (row["state"], row["name"]) in wanted:
                    found[(row["state"], row["name"])] = dict(row)
        return found

    def _set_agreement_agencies(self, wanted: Mapping[int, int]) -> None:
        ids = sorted(wanted)
        current: dict[int, int | None] = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            current.update(self.session.connection().execute(_AGENCY_OF_AGREEMENTS, {"ids": chunk}).all())
        changed = [{"b_id": i, "b_agency": wanted[i]} for i in ids if current.get(i) != wanted[i]]
        if changed:
            table = table_of(Agreement)
            self.session.connection().execute(
                update(table).where(table.c.id == bindparam("b_id")).values(agency_id=bindparam("b_agency")),
                changed)
        # an agency whose last agreement now names another one (a re-spelling continued as one
        # agreement) is no agency any more; decisions on its match stay (they name no row)
        left = sorted({a for i in ids if (a := current.get(i)) is not None and a != wanted[i]})
        if left:
            agreements = table_of(Agreement)
            still = select(agreements.c.agency_id).where(agreements.c.agency_id.in_(left))
            self.session.connection().execute(delete(_AGENCY).where(_AGENCY.c.id.in_(left), _AGENCY.c.id.not_in(still)))

    # -- readers -------------------------------------------------------------------------------
    def oris_of_agreements(self, agreement_ids: Iterable[int]) -> dict[int, str]:
        """The ORI of each agreement's agency, where it has one (a rejected match has none)."""
        ids = sorted(set(agreement_ids))
        found: dict[int, str] = {}
        for start in range(0, len(ids), CHUNK):
            rows = self.session.execute(
                select(Agreement.id, Agency.ori).join(Agency, Agency.id == Agreement.agency_id)
                .where(Agreement.id.in_(ids[start:start + CHUNK]), Agency.ori.is_not(None)))
            found.update((agreement_id, ori) for agreement_id, ori in rows if ori)
        return found

    # -- review ---------------------------------------------------------------------------------
    def decision_statuses(self) -> dict[tuple[str, str, str], str]:
        """The status of the newest decision on each (state, agency name, ORI), read once per
        transaction (an ingest asks twice; ``decide`` forgets it)."""
        transaction = self.session.get_transaction()
        memo = self.session.info.get(_DECISIONS_MEMO)
        if memo is None or memo[0] is not transaction:
            rows = self.session.connection().execute(_DECISIONS_IN_FORCE)
            memo = self.session.info[_DECISIONS_MEMO] = (transaction, {(st, name, ori): status
                                                                       for st, name, ori, status in rows})
        return memo[1]

    def rejected_and_accepted(self) -> tuple[frozenset[tuple[str, str, str]], frozenset[tuple[str, str, str]]]:
        """``rejected()`` and ``accepted()`` from one read of the decisions."""
        decisions = self.decision_statuses()
        return (frozenset(key for key, status in decisions.items() if status == "rejected"),
                frozenset(key for key, status in decisions.items() if status == "accepted"))

    def rejected(self) -> frozenset[tuple[str, str, str]]:
        """(state, agency name, ORI) of every match a reviewer rejected (and has not accepted since)."""
        return self.rejected_and_accepted()[0]

    def matches(self, *, state: str | None = None, review: str | None = None) -> list[Agency]:
        """Agencies with a registry match (rejected ones too), by state and name.  ``review``:
        accepted, rejected, or ``unreviewed``."""
        query = select(Agency).where(Agency.registry_record.is_not(None))
        if state:
            query = query.where(Agency.state == state)
        if review == "unreviewed":
            query = query.where(Agency.registry_review.is_(None))
        elif review:
            query = query.where(Agency.registry_review == review)
        return list(self.session.scalars(query.order_by(Agency.state, Agency.name)))

    def decide(self, agency_id: int, status: str, *, note: str | None = None,
               reviewer: str | None = None) -> RegistryDecision:
        """Accept or reject an agency's registry match; it takes effect at once and carries
        forward.  ValueError says what is wrong."""
        if status not in REGISTRY_REVIEW_STATUSES:
            raise ValueError(f"unknown decision {status!r}: expected one of {', '.join(REGISTRY_REVIEW_STATUSES)}")
        agency = self.session.get(Agency, agency_id)
        if agency is None:
            raise ValueError(f"no agency {agency_id}")
        ori = (agency.registry_record or {}).get("ori")
        if not ori:
            raise ValueError(f"agency {agency_id} ({agency.state} {agency.name}) has no registry match to review")
        self.session.info.pop(_DECISIONS_MEMO, None)
        decision = RegistryDecision(state=agency.state, agency_name=agency.name, ori=ori, status=status, note=note,
                                    reviewer=reviewer)
        self.session.add(decision)
        self.session.flush()
        _apply_review(agency, decision)
        self.session.flush()
        return decision


def _best(known: Mapping[str, Any] | None, found: Iterable[RegistryMatch | None]) -> dict[str, Any] | None:
    """The match an agency keeps: the known one unless a name finds the same ORI with more
    confidence (or there was none)."""
    best = dict(known) if known else None
    for match in found:
        if match is None:
            continue
        if best is None or (match.ori == best["ori"] and match.confidence > best["confidence"]):
            best = _record(match)
    return best


def _reviewed(record: Mapping[str, Any] | None, decision: str | None) -> dict[str, Any]:
    """The agency's identifier columns as its match and the decision in force on it (its
    status) say (``_apply_review`` on columns)."""
    rejected = decision == "rejected"
    return {"ori": record["ori"] if record and not rejected else None,
            "confidence": record["confidence"] if record and not rejected else None,
            "basis": record["basis"] if record and not rejected else None,
            "registry_review": decision}


def _apply_review(agency: Agency, decision: RegistryDecision | None) -> None:
    """The agency's identifier as its match and the decision in force on it say."""
    record = agency.registry_record
    rejected = decision is not None and decision.status == "rejected"
    review = decision.status if decision is not None else None
    ori = record["ori"] if record and not rejected else None
    confidence = record["confidence"] if record and not rejected else None
    basis = record["basis"] if record and not rejected else None
    if (agency.ori, agency.confidence, agency.basis, agency.registry_review) != (ori, confidence, basis, review):
        agency.ori, agency.confidence, agency.basis, agency.registry_review = ori, confidence, basis, review
