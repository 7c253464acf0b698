"""Header spellings ICE has used for each list column, shared by the workbook and HTML readers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from diff.records import ADDENDUM, AGENCY, AGENCY_TYPE, COUNTY, MOA, MODEL, SIGNED, STATE

# Header spellings (after header_key) -> canonical column.
HEADER_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "state": STATE,
        "law enforcement agency": AGENCY,
        "agency": AGENCY,
        "agency name": AGENCY,
        "type": AGENCY_TYPE,
        "agency type": AGENCY_TYPE,
        "county": COUNTY,
        "support type": MODEL,
        "model": MODEL,
        "support model": MODEL,
        "signed": SIGNED,
        "date signed": SIGNED,
        "signed date": SIGNED,
        "moa": MOA,
        "addendum": ADDENDUM,
    }
)

_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")


def header_key(text: str) -> str:
    """Case, punctuation, runs of spaces, non-breaking and trailing spaces do not matter:
    "Law  Enforcement\\xa0Agency: " -> "law enforcement agency"."""
    return " ".join(_NOT_ALPHANUMERIC.sub(" ", text.casefold()).split())


def canonical_column(header: object) -> str | None:
    """The canonical column for a header cell, or None when it is not a header we know."""
    if not isinstance(header, str):
        return None
    return HEADER_ALIASES.get(header_key(header))
