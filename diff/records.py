"""Plain record types that flow between the steps of the pipeline.

The crawler produces ``RawRow``s (what a workbook or HTML table says, untouched); the diff
stage turns them into ``Agreement``s (clean values with the raw ones kept beside them) and
compares lists of agreements.  Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal, TypeVar, cast

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
_T = TypeVar("_T")


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

    def __reduce__(self) -> tuple:
        # pickled as a call (a frozen dataclass's own way looks its fields up for every key)
        return AgreementKey, (self.state, self.agency, self.model, self.occurrence)

    @classmethod
    def from_text(cls, text: str) -> AgreementKey:
        parts = text.split("|")
        if len(parts) not in (3, 4):
            raise ValueError(f"not an agreement key: {text!r}")
        occurrence = int(parts[3].lstrip("#")) if len(parts) == 4 else 1
        return cls(parts[0], parts[1], parts[2], occurrence)


class RawTexts(Mapping[str, str]):
    """An agreement's raw cell texts (canonical column -> text), held compactly.

    A dict per agreement costs about 370 bytes before its texts; this is one tuple of texts
    beside a tuple of column names that all rows with the same columns share.  It reads as any
    mapping, in the order the texts were given, and compares equal to a dict of the same
    items.
    """

    __slots__ = ("_columns", "_texts")

    def __init__(self, items: Mapping[str, str]) -> None:
        columns = tuple(items)
        self._columns: tuple[str, ...] = _COLUMN_SETS.setdefault(columns, columns)
        self._texts: tuple[str, ...] = tuple(items.values())

    @classmethod
    def _of(cls, columns: tuple[str, ...], texts: tuple[str, ...]) -> RawTexts:
        made = cls.__new__(cls)
        made._columns, made._texts = _COLUMN_SETS.setdefault(columns, columns), texts
        return made

    def __getitem__(self, column: str) -> str:
        try:
            return self._texts[self._columns.index(column)]
        except ValueError:
            raise KeyError(column) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawTexts):
            return self._columns == other._columns and self._texts == other._texts or dict(self) == dict(other)
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]   # as a dict: agreements were never hashable

    def __repr__(self) -> str:
        return repr(dict(self))

    def __reduce__(self) -> tuple:
        return RawTexts._of, (self._columns, self._texts)


# One tuple of column names per distinct set of columns (a list has one or two).
_COLUMN_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}

# Values that repeat from row to row (states, types, models, counties, dates, "link"), one
# object each, so that a million agreements do not hold a million copies of "County".  Bounded:
# past the limit a value is kept as it came (only memory is at stake, never a result).
_SHARED: dict[Any, Any] = {}
_SHARED_LIMIT = 200_000
# The raw columns whose texts repeat; the others (agency, links) are shared with their clean
# value when they are the same text.
_REPEATING_RAW = frozenset((STATE, AGENCY_TYPE, COUNTY, MODEL, SIGNED, MOA, ADDENDUM))


def _shared(value: _T) -> _T:
    # only texts and dates: equal values of these are interchangeable (a date never equals a
    # datetime), so the value itself is the key
    if value.__class__ is not str and value.__class__ is not dt.date:
        return value
    found = _SHARED.get(value)
    if found is not None:
        return cast(_T, found)
    if len(_SHARED) < _SHARED_LIMIT:
        _SHARED[value] = value
    return value


def _same_text(clean: str | None, text: str) -> str:
    return clean if clean is not None and clean == text else text


@dataclass(frozen=True, slots=True)
class Agreement:
    """One row of a list, cleaned.  ``raw`` keeps the source text of every cell.

    Built with ``raw`` as any mapping; kept as ``RawTexts``, with the values that repeat from
    row to row shared (see ``_shared``).  ``fingerprint`` is a hash of the compared values,
    made once when the agreement is built: two agreements whose fingerprints differ differ
    in a compared value, so a diff compares the values of those only (``diff.rowdiff``).
    """

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
    # hash((compared values)): this process's string hashes, so never stored nor pickled
    fingerprint: int = field(init=False, repr=False, compare=False)

    # Fields compared field by field between snapshots, in report order.
    COMPARED_FIELDS = ("agency", "agency_type", "county", "signed", "moa", "moa_url", "addendum", "addendum_url")

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.raw.__class__ is not RawTexts:
            set_(self, "raw", self._compact_raw(self.raw))
            set_(self, "agency_type", _shared(self.agency_type))
            set_(self, "county", _shared(self.county))
            set_(self, "signed", _shared(self.signed))
            set_(self, "moa", _shared(self.moa))
            set_(self, "addendum", _shared(self.addendum))
        set_(self, "fingerprint", hash((self.agency, self.agency_type, self.county, self.signed, self.moa,
                                        self.moa_url, self.addendum, self.addendum_url)))

    def _compact_raw(self, raw: Mapping[str, str]) -> RawTexts:
        # the texts that read as their clean value (a name, a link) are that value's object
        same = {AGENCY: self.agency, "moa_url": self.moa_url, "addendum_url": self.addendum_url}
        texts = tuple(_shared(text) if column in _REPEATING_RAW else _same_text(same.get(column), text)
                      for column, text in raw.items())
        return RawTexts._of(tuple(raw), texts)

    def __getstate__(self) -> list:
        # the fields given when built, without the fingerprint (this process's hashes)
        return [self.key, self.agency, self.agency_type, self.county, self.signed, self.moa, self.moa_url,
                self.addendum, self.addendum_url, self.row_number, self.raw, self.notes]

    def __setstate__(self, state: list) -> None:
        # also reads what an older version pickled (raw as a dict)
        for name, value in zip(_INIT_FIELDS, state, strict=True):
            object.__setattr__(self, name, value)
        self.__post_init__()

    def compared_values(self) -> tuple:
        # Spelled out (same order as COMPARED_FIELDS): this runs for every row of every snapshot.
        return (self.agency, self.agency_type, self.county, self.signed, self.moa, self.moa_url,
                self.addendum, self.addendum_url)


_INIT_FIELDS = tuple(f.name for f in fields(Agreement) if f.init)
