"""Match an ICE agency to its FBI record (ORI, agency type, county, population, officers).

The FBI's Law Enforcement Employees records (``diff/data/fbi_lee_2025.csv``, see
``diff/data/SOURCES.md``) name agencies briefly ("Jefferson", type County; "Melbourne", type
City) where ICE writes "Jefferson County Sheriff's Office" and "City of Melbourne Police
Department".  A match goes by the place and the office that ``diff.agency_names.parse`` reads
from ICE's name, never by string similarity, so two different places are never matched and
an office with no FBI record of its own (a board of county commissioners, a department of
corrections, an attorney's office, a jail, a constable) stays unmatched.

API (the contract other modules rely on):

``Registry.load() -> Registry``
    The records shipped with the package, indexed once per process (cached).
``Registry.match(state, agency_name) -> RegistryMatch | None``
    ``ori``, ``confidence`` (0..1), ``basis`` (how, in words), and the record's ``name``,
    ``county``, ``agency_type``, ``population``, ``officers``.  None when there is no record
    of that office for that place, or when more than one record would fit.
``Registry.record(ori) -> RegistryRecord | None``
    A record by ORI.  Two ICE names of one state with the same ORI are one agency.

Bases and confidences, in the order they are tried:

=================================  ====  ====================================================
basis                              conf  rule
=================================  ====  ====================================================
same name                          0.95  the FBI name's canonical form equals ICE's
                                         ("Gwinnett County Police Department")
county sheriff by county name      0.95  sheriff of "<X> County/Parish": the state's County
                                         record named X
                                   0.85  the same when ICE does not say "County"
county police by county name       0.95  "<X> County Police Department": the County record
                                         "<X> County Police Department"
city police by city name           0.9   police of a city, town, village, township or
                                         borough: the City record of that place; 0.8 when
                                         ICE does not say which kind of place
city marshal by city name          0.8   a city marshal (Texas, Indiana): the City record
state police by state              0.8   the state police or highway patrol itself (not a
                                         department of public safety or one of its
                                         divisions): the state's State Police record with
                                         most officers and no station in its name
=================================  ====  ====================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from diff.agency_names import AgencyName, canonical, parse
from diff.gazetteer import FbiRow, fbi_rows, fbi_state, place_key

_COUNTY_KINDS = ("county", "parish")
_PLACE_KINDS = ("city", "town", "village", "township", "borough")
_KIND_SUFFIX = {"township": "TOWNSHIP", "borough": "BOROUGH", "village": "VILLAGE", "town": "TOWN"}
# FBI names that carry an office (matched by canonical form) rather than a bare place name.
_OFFICE_HINTS = frozenset({"POLICE", "SHERIFF", "SHERIFFS", "PATROL", "DEPARTMENT", "MARSHAL", "MARSHALS",
                           "TROOPERS", "SAFETY"})


# The state police itself, as ICE names it once the state's name is dropped.  A department of
# public safety is matched only by its own name: ICE lists some of its divisions as agreements
# of their own (Texas), which must not share one ORI.
_STATE_POLICE_NAMES = frozenset({"STATE POLICE", "STATE PATROL", "HIGHWAY PATROL", "STATE HIGHWAY PATROL",
                                 "DEPARTMENT OF STATE POLICE"})


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    ori: str
    name: str                # pub_agency_name, as the FBI writes it
    state: str               # USPS code
    county: str | None       # the FBI's county_name, e.g. "ST JOHNS"; None for NOT SPECIFIED
    agency_type: str         # City, County, State Police, University or College, ...
    population: int | None
    officers: int | None
    data_year: int


@dataclass(frozen=True, slots=True)
class RegistryMatch:
    ori: str
    confidence: float
    basis: str
    name: str
    county: str | None
    agency_type: str
    population: int | None
    officers: int | None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _match(record: RegistryRecord, confidence: float, basis: str) -> RegistryMatch:
    return RegistryMatch(record.ori, confidence, basis, record.name, record.county, record.agency_type,
                         record.population, record.officers)


@dataclass(slots=True)
class Registry:
    records: dict[str, RegistryRecord] = field(default_factory=dict)
    # (state, place_key) -> records, for County records with a bare county name (the sheriff)
    county_offices: dict[tuple[str, str], list[RegistryRecord]] = field(default_factory=lambda: defaultdict(list))
    # (state, place_key) -> City records
    city_offices: dict[tuple[str, str], list[RegistryRecord]] = field(default_factory=lambda: defaultdict(list))
    # (state, canonical name) -> records whose FBI name names an office
    by_canonical: dict[tuple[str, str], list[RegistryRecord]] = field(default_factory=lambda: defaultdict(list))
    # state -> its state police headquarters
    state_police: dict[str, RegistryRecord] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Registry:
        """The shipped FBI records, indexed (once per process)."""
        return _load()

    @classmethod
    def from_rows(cls, rows: Iterable[FbiRow]) -> Registry:
        registry = cls()
        for row in rows:
            registry._add(row)
        return registry

    def _add(self, row: FbiRow) -> None:
        county = row.county.strip() or None
        record = RegistryRecord(
            ori=row.ori, name=row.name, state=fbi_state(row.state),
            county=None if county == "NOT SPECIFIED" else county, agency_type=row.agency_type,
            population=_int(row.population), officers=_int(row.officers), data_year=int(row.data_year))
        self.records[record.ori] = record
        upper = record.name.upper()
        if _OFFICE_HINTS.intersection(upper.replace("'", "").split()):
            self.by_canonical[(record.state, canonical(record.name, record.state))].append(record)
        elif record.agency_type == "County":
            bare = upper.removesuffix(" COUNTY").removesuffix(" PARISH")
            self.county_offices[(record.state, place_key(bare))].append(record)
        elif record.agency_type == "City":
            self.city_offices[(record.state, place_key(record.name))].append(record)
        if record.agency_type == "State Police" and "," not in record.name and ":" not in record.name:
            known = self.state_police.get(record.state)
            if known is None or (record.officers or 0) > (known.officers or 0):
                self.state_police[record.state] = record

    def record(self, ori: str) -> RegistryRecord | None:
        return self.records.get(ori)

    def match(self, state: str, agency_name: str) -> RegistryMatch | None:
        """The FBI record of this agency, or None (see the module docstring)."""
        name = parse(agency_name, state)
        same = self.by_canonical.get((state, name.canonical), [])
        if len(same) == 1 and name.role not in ("commissioners", "corrections", "attorney", "jail", "constable"):
            return _match(same[0], 0.95, "same name")
        if name.role == "state police":
            if name.canonical not in _STATE_POLICE_NAMES:
                return None      # a division of it ("... Criminal Investigations Division")
            record = self.state_police.get(state)
            return _match(record, 0.8, "state police by state") if record else None
        if name.place is None or name.place_kind == "state":
            return None
        if name.role == "sheriff":
            return self._sheriff(state, name)
        if name.role == "police" and name.place_kind in _COUNTY_KINDS:
            return self._county_police(state, name)
        if name.role in ("police", "marshal"):
            return self._city_office(state, name)
        return None

    def _sheriff(self, state: str, name: AgencyName) -> RegistryMatch | None:
        assert name.place is not None
        if name.place_kind not in (None, *_COUNTY_KINDS):
            return None
        found = self.county_offices.get((state, place_key(name.place)), [])
        if len(found) != 1:
            return None
        return _match(found[0], 0.95 if name.place_kind else 0.85, "county sheriff by county name")

    def _county_police(self, state: str, name: AgencyName) -> RegistryMatch | None:
        assert name.place is not None
        found = self.by_canonical.get((state, f"{name.place} COUNTY POLICE DEPARTMENT"), [])
        return _match(found[0], 0.95, "county police by county name") if len(found) == 1 else None

    def _city_office(self, state: str, name: AgencyName) -> RegistryMatch | None:
        assert name.place is not None
        keys = []
        if name.place_kind in _KIND_SUFFIX:
            keys.append(place_key(f"{name.place} {_KIND_SUFFIX[name.place_kind]}"))
        keys.append(place_key(name.place))
        if name.place.endswith(" CITY"):   # "Smiley City Marshal's Office" is Smiley's
            keys.append(place_key(name.place.removesuffix(" CITY")))
        for key in keys:
            found = self.city_offices.get((state, key), [])
            if len(found) > 1:
                return None      # two places of one name in the state: not guessed
            if found:
                basis = "city marshal by city name" if name.role == "marshal" else "city police by city name"
                confidence = 0.8 if name.role == "marshal" or name.place_kind is None else 0.9
                return _match(found[0], confidence, basis)
        return None


@lru_cache(maxsize=1)
def _load() -> Registry:
    return Registry.from_rows(fbi_rows())
