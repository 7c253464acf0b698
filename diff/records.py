"""Plain record types that flow between the steps of the pipeline.

The crawler produces ``RawRow``s (what a workbook or HTML table says, untouched); the diff
stage turns them into ``Agreement``s (clean values with the raw ones kept beside them) and
compares lists of agreements.  Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Literal

# Canonical column names.  The reader maps every header spelling ICE has used onto these.
STATE = "state"
AGENCY = "agency"
AGENCY_TYPE = "type"
COUNTY = "county"
MODEL = "model"
SIGNED = "signed"
MOA = "moa"
ADDENDUM = "addendum"
CANONICAL_COLUMNS: tuple[str, ...] = (STATE, AGENCY, AGENCY_TYPE, COUNTY, MODEL, SIGNED, MOA, ADDENDUM)

ListName = Literal["participating", "pending"]
LIST_NAMES: tuple[ListName, ...] = ("participating", "pending")

# Support models, by their short code.
MODEL_NAMES: Mapping[str, str] = {
    "JEM": "Jail Enforcement Model",
    "TFM": "Task Force Model",
    "WSO": "Warrant Service Officer",
}

RawValue = str | int | float | bool | dt.date | dt.datetime | None


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row exactly as the source gave it.

    ``cells`` maps canonical column names to the raw cell value (``str``, ``date``/``datetime``
    for real Excel dates, numbers, ``None`` for empty or error cells).  ``links`` maps canonical
    column names to the hyperlink target behind the cell, as written in the file.  ``extra``
    holds cells under headers the reader did not recognise, keyed by the raw header text.
    """

    row_number: int
    cells: Mapping[str, RawValue]
    links: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, RawValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceTable:
    """The rows of one list as read from one source document (workbook or HTML page)."""

    sheet_name: str
    header: tuple[str, ...]              # raw header texts, in order
    columns: tuple[str | None, ...]      # canonical name for each header position (None: unknown)
    rows: tuple[RawRow, ...]
    sheet_names: tuple[str, ...] = ()
    header_row: int = 1
    skipped_blank_rows: int = 0


_RAW_ROW_PARTS = attrgetter("row_number", "cells", "links", "extra")
_RAW_HASH_CHUNK = 20_000


def raw_table_hash(table: SourceTable, rules: str) -> str:
    """Fingerprint of a table exactly as read (every value, type, link, row number and header),
    with ``rules``: a marker of the code that cleans and checks it.  Two tables with the same
    fingerprint become the same agreements and the same anomalies, so a list whose fingerprint
    is that of the list as it stands is unchanged without cleaning a row.  ``repr`` keeps
    types apart (``1`` and ``'1'``, ``True`` and ``1``); anything it shows differently hashes
    differently, which only ever sends a table the long way."""
    digest = hashlib.sha256(repr((rules, table.sheet_name, table.sheet_names, table.header, table.columns,
                                  table.header_row, table.skipped_blank_rows, len(table.rows))).encode())
    rows = table.rows
    for start in range(0, len(rows), _RAW_HASH_CHUNK):
        digest.update(repr(list(map(_RAW_ROW_PARTS, rows[start : start + _RAW_HASH_CHUNK]))).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class AgreementKey:
    """Natural key of an agreement within one list: (state, agency, support model).

    ``occurrence`` is 1 for the first row with this key in a list and counts up for
    further rows with the same key (exact duplicates, or distinct rows that collide),
    so that no row is ever merged away silently.
    """

    state: str        # USPS code, e.g. "FL", "GU"; "??" when the state cannot be read
    agency: str       # agency_key(): case/punctuation/abbreviation-insensitive name
    model: str        # "JEM" | "TFM" | "WSO" | "UNKNOWN"
    occurrence: int = 1

    def as_text(self) -> str:
        base = f"{self.state}|{self.agency}|{self.model}"
        return base if self.occurrence == 1 else f"{base}|#{self.occurrence}"

    @classmethod
    def from_text(cls, text: str) -> AgreementKey:
        parts = text.split("|")
        if len(parts) not in (3, 4):
            raise ValueError(f"not an agreement key: {text!r}")
        occurrence = int(parts[3].lstrip("#")) if len(parts) == 4 else 1
        return cls(parts[0], parts[1], parts[2], occurrence)


@dataclass(frozen=True, slots=True)
class Agreement:
    """One row of a list, cleaned.  ``raw`` keeps the source text of every cell."""

    key: AgreementKey
    agency: str                  # display name: the source's text with whitespace tidied
    agency_type: str | None      # "County" | "Municipality" | "State Agency" | None
    county: str | None
    signed: dt.date | None
    moa: str | None              # "link" | "pending" | None (cell text class)
    moa_url: str | None
    addendum: str | None         # "link" | "pending" | None
    addendum_url: str | None
    row_number: int
    raw: Mapping[str, str]       # canonical column -> raw text ("" for empty); links as "<col>_url"
    notes: tuple[str, ...] = ()  # cleaning notes, e.g. "state 'PENNSLYVANIA' read as PA"

    # Fields compared field by field between snapshots, in report order.
    COMPARED_FIELDS = ("agency", "agency_type", "county", "signed", "moa", "moa_url", "addendum", "addendum_url")

    def compared_values(self) -> tuple:
        # Spelled out (same order as COMPARED_FIELDS): this runs for every row of every snapshot.
        return (self.agency, self.agency_type, self.county, self.signed, self.moa, self.moa_url,
                self.addendum, self.addendum_url)
