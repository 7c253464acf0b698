"""Where an agency is and whom it serves: its county (FIPS code) and its FBI record (ORI,
population served, officers), read from the agency's name and the list's county column by
``diff.registry`` and ``diff.gazetteer``.  Nothing here guesses beyond them: an agency they
cannot place has no county code and no figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from diff.agency_names import canonical, parse
from diff.gazetteer import county_fips
from diff.normalise import STATE_NAMES
from diff.registry import Registry, RegistryMatch


def state_name(code: str) -> str:
    """'Florida' for FL; the code itself when it is no known state or territory."""
    name = STATE_NAMES.get(code)
    if name is None:
        return "state not readable" if code == "??" else code
    return " ".join(word if word == "OF" else word.title() for word in name.split()).replace(" OF ", " of ")


def state_slug(code: str) -> str:
    """The file name of a state's page: ``fl``; ``unknown`` for a state ICE's list did not say."""
    return code.lower() if code.isalpha() else "unknown"


@dataclass(frozen=True)
class Identity:
    """What the registry and the gazetteer say of one agency (any part may be unknown)."""

    match: RegistryMatch | None
    county: str | None            # the county's name as used for the code
    county_fips: str | None
    county_basis: str | None      # where the county came from, in words


def identify(state: str, name: str, listed_county: str | None,
             rejected: Collection[tuple[str, str, str]] = frozenset()) -> Identity:
    """``rejected``: (state, canonical name, ORI) of matches a reviewer rejected
    (``storage.agencies``): such a match is not shown, nor its county used."""
    found = _identify(state, name, listed_county, True)
    if found.match is not None and (state, canonical(name, state), found.match.ori) in rejected:
        return _identify(state, name, listed_county, False)
    return found


@lru_cache(maxsize=8192)
def _identify(state: str, name: str, listed_county: str | None, registry: bool) -> Identity:
    match = Registry.load().match(state, name) if state.isalpha() and registry else None
    candidates = []
    if listed_county:
        candidates.append((listed_county, "the list's county column"))
    parsed = parse(name, state)
    if parsed.place and parsed.place_kind in ("county", "parish", "borough"):
        candidates.append((parsed.place.title(), "the agency's name"))
    if match is not None and match.county and match.agency_type in ("County", "City"):
        # a state agency's record names the county of its headquarters, not one it serves
        candidates.append((match.county.title(), f"the FBI record {match.ori}"))
    for county, basis in candidates:
        fips = county_fips(state, county)
        if fips:
            return Identity(match, county, fips, basis)
    return Identity(match, None, None, None)


@lru_cache(maxsize=1)
def fbi_population_by_state() -> dict[str, int]:
    """The population the FBI's records assign to the agencies of each state, summed.

    Each resident is counted once, under the agency that primarily serves them (a city's
    police for the city, the sheriff for the unincorporated county), so the sum is the
    population covered by the state's reporting agencies."""
    totals: dict[str, int] = defaultdict(int)
    for record in Registry.load().records.values():
        if record.population:
            totals[record.state] += record.population
    return dict(totals)
