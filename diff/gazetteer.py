"""US counties and places by state: which real place an agency name names.

Two agencies whose names look alike ("Hill" and "Milam County", "Melbourne" and "West
Melbourne") are never one agency when the names name two different real places.  This module
knows the places; ``diff.agency_names`` finds the place in a name.  Pure: it reads only the
data shipped beside it (``diff/data/``, see its SOURCES.md):

- counties and county equivalents (parishes, Alaska's boroughs, the independent cities of
  Virginia, Maryland, Missouri and Nevada): the Census Bureau's 2017 list, 3,231 rows;
- places: every municipality with a police agency of its own in the FBI's LEE records
  (agency type ``City``), about 11,600.  A town without police of its own is not listed.

API (the contract other modules rely on):

``county_fips(state, county_name) -> str | None``
    The 5-digit FIPS code of a county or county equivalent: ``("FL", "St. Johns County")`` →
    ``"12109"``; ``"Lafourche Parish"``, ``"Hopewell"`` (VA, an independent city) and
    ``"Baltimore City"`` work; None when the state has no such county.
``is_county(state, name) -> bool``, ``is_place(state, name) -> bool``
    Whether the name (with or without "County", "City of", ...) is a county, or a county or
    a place, of that state.
``distinct_places(state_a, name_a, state_b, name_b) -> bool``
    True when the two *agency names* name two different real places, however similar their
    strings: Hill vs Milam County (TX), Melbourne vs West Melbourne (FL), Carroll County MD vs
    KY.  False when either name names no place ("Department of Corrections"), when a place is
    not known in its state (a misspelling such as "Freedom County" MN, or Cass County put under
    MT, where no Cass County exists: evidence of a typo or a state correction), and when both
    name the same place.  Names in two states that both name real places are distinct (two
    counties called Carroll are two counties), even when ICE's later correction moved one
    agency from one to the other: telling those apart needs more evidence than names (the
    same signing date), which is the caller's to weigh.

``only_in_new_state(old_state, old_name, new_state, new_name) -> bool``
    Evidence for a state correction: True when both names name the same place, that place
    does not exist in the old state and does in the new one (Cass County moved from MT to MN,
    Wichita County from OK to TX).  False when the place exists in both states (Carroll
    County MD and KY: two counties) or in neither, or when the names name different places.

Place names are compared by ``place_key``: upper case, accents and punctuation dropped,
St./Ste./Ft./Mt. spelled out, spaces removed ("De Kalb" = "DeKalb", "La Salle" = "LaSalle").
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from diff.agency_names import AgencyName, parse

COUNTIES_FILE = "us_counties.csv"
FBI_LEE_FILE = "fbi_lee_2025.csv"
# The FBI's state codes that are not USPS codes.
FBI_STATE_CODES = {"NB": "NE"}

_PREFIXES = {"ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT"}
_NON_WORD = re.compile(r"[^A-Z0-9]+")
_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
# Trailing words of a county name that say its kind, not its name.
_COUNTY_WORDS = ("COUNTY", "PARISH", "BOROUGH", "CENSUS AREA", "MUNICIPALITY", "MUNICIPIO", "CITY AND BOROUGH")
# Trailing words of a place name that say its kind; "City" stays ("Orange City"), "Town" too
# ("Old Town"), but both are also tried without (see _place_ids).
_PLACE_WORDS = ("TOWNSHIP", "TWP", "BOROUGH", "VILLAGE")
_LEADING_KIND = re.compile(r"^(?:CITY|TOWN|VILLAGE|TOWNSHIP|BOROUGH) OF ")


def _ascii_upper(text: str) -> str:
    if text.isascii():
        return text.upper()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).upper()


def place_key(name: str) -> str:
    """The form in which two spellings of one place name are equal: "St. Johns" = "SAINTJOHNS"."""
    words = _NON_WORD.sub(" ", _APOSTROPHES.sub("", _ascii_upper(name)).replace("&", " AND ")).split()
    return "".join(_PREFIXES.get(w, w) for w in words)


def _strip_suffix(words: str, suffixes: tuple[str, ...]) -> tuple[str, str | None]:
    for suffix in suffixes:
        if words.endswith(" " + suffix):
            return words[: -len(suffix) - 1], suffix
    return words, None


def _words(name: str) -> str:
    return " ".join(_NON_WORD.sub(" ", _APOSTROPHES.sub("", _ascii_upper(name))).split())


@dataclass(frozen=True, slots=True)
class County:
    state: str
    fips: str
    name: str
    kind: str        # county | parish | borough | municipio | city


@dataclass(slots=True)
class Gazetteer:
    """Counties and places by state, indexed by ``place_key``."""

    counties: dict[tuple[str, str], list[County]] = field(default_factory=lambda: defaultdict(list))
    places: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    def county_fips(self, state: str, county_name: str) -> str | None:
        words, suffix = _strip_suffix(_words(county_name), (*_COUNTY_WORDS, "CITY"))
        found = self.counties.get((state, place_key(words)), [])
        if suffix == "CITY":
            found = [c for c in found if c.kind == "city"] or (
                self.counties.get((state, place_key(_words(county_name))), []))
        else:  # "Baltimore" or "Baltimore County" is the county, not Baltimore city
            found = [c for c in found if c.kind != "city"] or found
        return found[0].fips if found else None

    def is_county(self, state: str, name: str) -> bool:
        return self.county_fips(state, name) is not None

    def is_place(self, state: str, name: str) -> bool:
        parsed = parse(name, state)
        if parsed.place is not None and self._ids(state, parsed):
            return True
        words = _LEADING_KIND.sub("", _words(name))
        return self.is_county(state, words) or bool(self._place_ids(state, _strip_suffix(words, _PLACE_WORDS)[0]))

    def distinct_places(self, state_a: str, name_a: str, state_b: str, name_b: str) -> bool:
        a, b = parse(name_a, state_a), parse(name_b, state_b)
        if a.place is None or b.place is None or "state" in (a.place_kind, b.place_kind):
            return False
        if state_a == state_b and place_key(a.place) == place_key(b.place):
            return False
        ids_a, ids_b = self._ids(state_a, a), self._ids(state_b, b)
        if not ids_a or not ids_b:
            return False
        return state_a != state_b or ids_a.isdisjoint(ids_b)

    def only_in_new_state(self, old_state: str, old_name: str, new_state: str, new_name: str) -> bool:
        old, new = parse(old_name, old_state), parse(new_name, new_state)
        if old.place is None or new.place is None or old_state == new_state:
            return False
        if "state" in (old.place_kind, new.place_kind) or place_key(old.place) != place_key(new.place):
            return False
        return not self._ids(old_state, old) and bool(self._ids(new_state, new))

    # -- what a parsed name resolves to: ("county", fips) and ("place", state, key) ids --------

    def _ids(self, state: str, name: AgencyName) -> set[tuple[str, ...]]:
        assert name.place is not None
        kind = name.place_kind
        counties = self._county_ids(state, name.place, city=kind == "city")
        places = self._place_ids(state, name.place)
        if kind in ("county", "parish") or (kind == "borough" and state == "AK"):
            return counties
        if kind in ("township", "village", "town", "borough"):
            return places
        if kind == "city":
            return places | counties
        if name.role in ("sheriff", "jail", "commissioners", "attorney"):
            return counties or places
        return places or counties

    def _county_ids(self, state: str, place: str, *, city: bool) -> set[tuple[str, ...]]:
        found = self.counties.get((state, place_key(place)), [])
        if city:
            found = [c for c in found if c.kind == "city"]
        return {("county", c.fips) for c in found}

    def _place_ids(self, state: str, place: str) -> set[tuple[str, ...]]:
        words = _words(place)
        for candidate in (words, _strip_suffix(words, ("CITY", "TOWN"))[0]):
            key = place_key(candidate)
            if (state, key) in self.places:
                return {("place", state, key)}
        return set()


def data_text(name: str) -> str:
    """The text of a file shipped in diff/data/."""
    return resources.files("diff").joinpath("data", name).read_text(encoding="utf-8")


def fbi_state(code: str) -> str:
    """The USPS code for an FBI state code (the FBI writes Nebraska "NB")."""
    return FBI_STATE_CODES.get(code, code)


@lru_cache(maxsize=1)
def load() -> Gazetteer:
    """The gazetteer built from the shipped data (once per process)."""
    gazetteer = Gazetteer()
    for row in csv.DictReader(data_text(COUNTIES_FILE).splitlines()):
        county = County(row["state"], row["fips"], row["name"], row["kind"])
        gazetteer.counties[(county.state, place_key(county.name))].append(county)
    for record in fbi_rows():
        if record.agency_type != "City":
            continue
        state = fbi_state(record.state)
        words = _words(record.name)
        gazetteer.places[(state, place_key(words))].add(record.name)
        bare, suffix = _strip_suffix(words, _PLACE_WORDS)
        if suffix:
            gazetteer.places[(state, place_key(bare))].add(record.name)
    return gazetteer


class FbiRow(NamedTuple):
    """One row of fbi_lee_2025.csv, as text (see diff/data/SOURCES.md for the columns)."""

    ori: str
    data_year: str
    name: str           # pub_agency_name
    state: str          # state_abbr, the FBI's code
    county: str         # county_name
    agency_type: str    # agency_type_name
    population: str
    officers: str       # officer_ct


_FBI_COLUMNS = ("ori", "data_year", "pub_agency_name", "state_abbr", "county_name", "agency_type_name",
                "population", "officer_ct")


@lru_cache(maxsize=1)
def fbi_rows() -> tuple[FbiRow, ...]:
    """The FBI's records shipped in diff/data, read once per process."""
    reader = csv.reader(data_text(FBI_LEE_FILE).splitlines())
    header = next(reader)
    columns = [header.index(name) for name in _FBI_COLUMNS]
    return tuple(FbiRow(*(row[i] for i in columns)) for row in reader)


def county_fips(state: str, county_name: str) -> str | None:
    """See the module docstring."""
    return load().county_fips(state, county_name)


def is_county(state: str, name: str) -> bool:
    """See the module docstring."""
    return load().is_county(state, name)


def is_place(state: str, name: str) -> bool:
    """See the module docstring."""
    return load().is_place(state, name)


def distinct_places(state_a: str, name_a: str, state_b: str, name_b: str) -> bool:
    """See the module docstring."""
    return load().distinct_places(state_a, name_a, state_b, name_b)


def only_in_new_state(old_state: str, old_name: str, new_state: str, new_name: str) -> bool:
    """See the module docstring."""
    return load().only_in_new_state(old_state, old_name, new_state, new_name)
