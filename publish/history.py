"""The agreements' history as plain rows: every version, what was in force on a day, and the
agencies behind the agreements.  One reading of the database for the export and the report's
agency and state pages, so that both say the same.

An agency is a ``(state, agency key)`` pair: the key is the case-, punctuation- and
abbreviation-insensitive name the diff uses (``diff.normalise.agency_key``), so one agency has
up to three agreements per list (JEM, TFM, WSO) and may have been listed under several names.

An agreement keeps its id when ICE re-spells it (``diff.identity``), so its key can change.
Each version keeps the key of its row (``key``, ``model``); the agency it belongs to
(``state``, ``agency_key``) is the one its *latest* key names, in every version: one
agreement, one agency, one history; and the agencies of the agreements in force are the
``(state, agency key)`` pairs of the current list's rows, which is what ``diff.metrics``
counts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from diff.records import AgreementKey
from storage.lists import ListRepository
from storage.models import Snapshot


@dataclass(frozen=True, slots=True)
class VersionRow:
    """What one agreement said from one snapshot on (``present`` False: no longer listed).
    ``key`` and ``model``: the row's then; ``state`` and ``agency_key``: the agency the
    agreement's latest key names (see the module text)."""

    agreement_id: int
    list: str
    key: str
    state: str
    agency_key: str
    model: str
    snapshot_id: int
    file: str | None
    as_of: dt.date | None
    present: bool
    agency: str | None
    agency_type: str | None
    county: str | None
    signed: dt.date | None
    moa: str | None
    moa_url: str | None
    addendum: str | None
    addendum_url: str | None
    row: int | None

    def item(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in VERSION_FIELDS}


VERSION_FIELDS = tuple(f.name for f in fields(VersionRow))


def agency_slug(state: str, agency_key: str) -> str:
    """A file-name-safe id for an agency, stable while its key is: ``fl-alachua-county-sheriffs-office``."""
    words = re.sub(r"[^a-z0-9]+", "-", f"{state} {agency_key}".lower()).strip("-")
    return words or "unknown"


@dataclass
class AgencyRecord:
    """One agency across both lists and all snapshots."""

    slug: str
    state: str
    agency_key: str
    names: list[str] = field(default_factory=list)          # as listed, in order of first appearance
    versions: list[VersionRow] = field(default_factory=list)

    @property
    def name(self) -> str:
        present = [v for v in self.versions if v.present and v.agency]
        return (present[-1].agency if present else None) or (self.names[-1] if self.names else self.agency_key)

    def latest(self, attribute: str) -> Any:
        values = [getattr(v, attribute) for v in self.versions if v.present and getattr(v, attribute)]
        return values[-1] if values else None


class History:
    """Every agreement version, with the snapshots they came from."""

    def __init__(self, versions: Sequence[VersionRow], snapshots: Mapping[int, Snapshot]) -> None:
        self.versions = list(versions)
        self.snapshots = dict(snapshots)

    @classmethod
    def load(cls, session: Session) -> History:
        repository = ListRepository(session)
        # the history names each snapshot's file and day; the JSON documents (counts, columns),
        # decoded twice per snapshot, are loaded when read (accepted_participating reads them)
        snapshots = {s.id: s for s in session.scalars(
            select(Snapshot).options(defer(Snapshot.metrics), defer(Snapshot.columns)).order_by(Snapshot.id))}
        rows = repository.version_history()
        # a removal mark has no key: the agreement's last one (or, in a database written before
        # keys were kept per version, the key it was first seen under)
        keys: list[str] = []
        last_key: dict[int, str] = {}
        for version in rows:
            key = last_key[version.agreement_id] = (version.version_key or last_key.get(version.agreement_id)
                                                    or version.key)
            keys.append(key)
        # each key parsed once (a long history repeats a few thousand keys a million times);
        # every version is owned by the agency its agreement's latest key names (_owned)
        parsed = {key: AgreementKey.from_text(key) for key in {*keys, *last_key.values()}}
        owner = {agreement_id: (parsed[key].state, parsed[key].agency) for agreement_id, key in last_key.items()}
        files = {i: (s.file_name, s.as_of) for i, s in snapshots.items()}
        versions = []
        for version, key in zip(rows, keys, strict=True):
            file, as_of = files[version.snapshot_id]
            state, agency_key = owner[version.agreement_id]
            versions.append(VersionRow(
                agreement_id=version.agreement_id, list=version.list_name, key=key, state=state,
                agency_key=agency_key, model=parsed[key].model, snapshot_id=version.snapshot_id,
                file=file, as_of=as_of, present=version.present, agency=version.agency,
                agency_type=version.agency_type, county=version.county, signed=version.signed, moa=version.moa,
                moa_url=version.moa_url, addendum=version.addendum, addendum_url=version.addendum_url,
                row=version.row_number))
        return cls(versions, snapshots)

    def until(self, chosen: Mapping[str, Snapshot]) -> History:
        """The history as it stood when ``chosen`` (the snapshot in force per list) was the latest:
        a list without a chosen snapshot has no versions yet."""
        limit = {name: snapshot.id for name, snapshot in chosen.items()}
        kept = [v for v in self.versions if v.snapshot_id <= limit.get(v.list, -1)]
        newest = max(limit.values(), default=-1)
        return History(_owned(kept), {i: s for i, s in self.snapshots.items() if s.id <= newest})

    def latest_versions(self) -> dict[int, VersionRow]:
        """The newest version of each agreement, by agreement id."""
        newest: dict[int, VersionRow] = {}
        for version in self.versions:
            newest[version.agreement_id] = version
        return newest

    def in_force(self, list_name: str | None = None) -> list[VersionRow]:
        """The agreements listed now (in this history), sorted by list, state, agency and model."""
        rows = [v for v in self.latest_versions().values() if v.present and (list_name is None or v.list == list_name)]
        return sorted(rows, key=lambda v: (v.list, v.state, v.agency_key, v.model, v.key))

    def first_seen(self) -> dict[int, dt.date | None]:
        """The day each agreement was first listed (the as-of day of the first file that had it)."""
        first: dict[int, dt.date | None] = {}
        for version in self.versions:
            if version.present and version.agreement_id not in first:
                first[version.agreement_id] = version.as_of
        return first

    def agencies(self) -> dict[tuple[str, str], AgencyRecord]:
        """Every agency ever listed, by ``(state, agency key)``, each with a unique slug."""
        agencies: dict[tuple[str, str], AgencyRecord] = {}
        taken: set[str] = set()
        for version in self.versions:
            pair = (version.state, version.agency_key)
            record = agencies.get(pair)
            if record is None:
                slug = base = agency_slug(*pair)
                counter = 2
                while slug in taken:       # two keys differing only in punctuation
                    slug, counter = f"{base}-{counter}", counter + 1
                taken.add(slug)
                record = agencies[pair] = AgencyRecord(slug, *pair)
            record.versions.append(version)
            if version.agency and version.agency not in record.names:
                record.names.append(version.agency)
        return agencies


def _owned(versions: Sequence[VersionRow]) -> list[VersionRow]:
    """The versions with ``state`` and ``agency_key`` of the agency their agreement's latest
    key names (the versions are in the order written)."""
    latest = {v.agreement_id: v.key for v in versions}
    owned = []
    for version in versions:
        key = AgreementKey.from_text(latest[version.agreement_id])
        state, agency_key = key.state, key.agency
        if (state, agency_key) != (version.state, version.agency_key):
            version = replace(version, state=state, agency_key=agency_key)
        owned.append(version)
    return owned


AGENCY_FIELDS = ("agency_id", "state", "agency_key", "name", "names_seen", "agency_type", "county", "status",
                 "participating_models", "pending_models", "agreements_in_force", "first_seen", "first_signed")


def agency_status(participating: Iterable[str], pending: Iterable[str], ever_participating: bool) -> str:
    """participating (on the list now), pending (only on the pending list), or no longer listed."""
    if list(participating):
        return "participating"
    if list(pending):
        return "pending"
    return "no longer listed" if ever_participating else "no longer pending"


def agency_items(history: History) -> list[dict[str, Any]]:
    """One row per agency: names, type, county, models in force on each list, first seen and signed."""
    in_force: dict[tuple[str, str], list[VersionRow]] = defaultdict(list)
    for version in history.in_force():
        in_force[(version.state, version.agency_key)].append(version)
    first_seen = history.first_seen()
    rows = []
    for pair, agency in sorted(history.agencies().items()):
        now = in_force.get(pair, [])
        participating = sorted(v.model for v in now if v.list == "participating")
        pending = sorted(v.model for v in now if v.list == "pending")
        on_participating = [v for v in agency.versions if v.list == "participating" and v.present]
        seen = [day for v in on_participating if (day := first_seen.get(v.agreement_id)) is not None]
        signed = [v.signed for v in on_participating if v.signed]
        rows.append({
            "agency_id": agency.slug, "state": agency.state, "agency_key": agency.agency_key, "name": agency.name,
            "names_seen": " | ".join(agency.names), "agency_type": agency.latest("agency_type"),
            "county": agency.latest("county"),
            "status": agency_status(participating, pending, bool(on_participating)),
            "participating_models": " ".join(participating), "pending_models": " ".join(pending),
            "agreements_in_force": len(participating),
            "first_seen": min(seen, default=None), "first_signed": min(signed, default=None),
        })
    return rows
