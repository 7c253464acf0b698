"""Clean the cells of ICE's 287(g) lists into ``Agreement``s.

Every cleaner takes a raw cell value (what the reader produced: text, a date, a number or
``None``) and returns the clean value, and where a value had to be *corrected* rather than
merely tidied, a note saying what was read and how.  Whitespace, case and documented
aliases (USPS codes, "CNMI", "JEM") are tidying and get no note; misspellings, variant
labels ("State" for State Agency), repaired links and unreadable cells get one.

The same few thousand values recur in every snapshot, so each cleaner is memoised; a
backfill then costs a dictionary look-up per cell for everything seen before.

Natural key of an agency (``agency_key``): upper-case ASCII words of ``A-Z`` and ``0-9``
separated by single spaces, e.g. ``"ST. JOHNS COUNTY SHERIFF’S OFFICE"`` →
``"SAINT JOHNS COUNTY SHERIFFS OFFICE"``.  Folded: case, accents, punctuation (apostrophes
join, everything else separates words), dotted initials (``P.D.`` = ``PD``), ``&`` → AND,
the abbreviations in ``_ABBREVIATIONS``, ``_NAME_PREFIXES`` (St./Ste./Ft./Mt. before a
name), CO (not first) → COUNTY, SO (last, or after County/Parish) → SHERIFFS OFFICE,
"Sheriff Office" → SHERIFFS OFFICE, and ordinal words FIRST..TWENTIETH → 1ST..20TH.  Not folded: words such as
"City of", "Town of", "The", "Office" vs "Department" — those name different agencies often
enough that the key keeps them apart; ``agency_loose`` drops them for rename matching.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rapidfuzz import process
from rapidfuzz.distance import OSA

from diff.records import (
    ADDENDUM,
    AGENCY,
    AGENCY_TYPE,
    COUNTY,
    MOA,
    MODEL,
    MODEL_NAMES,
    SIGNED,
    STATE,
    Agreement,
    AgreementKey,
    RawRow,
    RawValue,
    SourceTable,
)

UNKNOWN_STATE = "??"
UNKNOWN_MODEL = "UNKNOWN"

# ---------------------------------------------------------------------------------------------
# Text tidying shared by all cleaners

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
# C0 and C1 control characters that are not whitespace (an xlsx cell spells them ``_x0000_``):
# never part of a name, refused by PostgreSQL (NUL), and harmful in a terminal (ESC).
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
# For the raw text: every C0/C1 control but tab and line breaks, and a literal ``_xHHHH_``
# (which would otherwise read back as a control), in the xlsx notation ``_xHHHH_``.
_RAW_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|_(?=x[0-9A-Fa-f]{4}_)")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
                              "\u201c": '"', "\u201d": '"'})
# Literal texts Excel shows for error cells and the "not applicable" fillers ICE types.
_BLANKS = frozenset({"", "#N/A", "#NA", "N/A", "NA", "#N/A N/A", "#REF!", "#VALUE!", "#NAME?",
                     "#DIV/0!", "#NULL!", "#NUM!"})


def _text(raw: RawValue) -> str:
    """The cell as one line of text: whitespace runs (any kind) collapsed, ends stripped."""
    if raw is None:
        return ""
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    return _SPACES.sub(" ", _CONTROLS.sub("", str(raw))).strip()


def _ascii_upper(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def raw_text(raw: RawValue) -> str:
    """The raw cell as stored beside the clean value: text untouched, dates ISO, empty ""."""
    if raw is None:
        return ""
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    return encode_controls(str(raw))


def encode_controls(text: str) -> str:
    """``text`` with its control characters in the xlsx notation (NUL: ``_x0000_``), so that it
    can be stored in any database and printed safely; a literal ``_x0041_`` becomes
    ``_x005F_x0041_``, as Excel writes it, so the encoding can be undone."""
    return _RAW_UNSAFE.sub(lambda m: f"_x{ord(m[0]):04X}_", text) if _RAW_UNSAFE.search(text) else text


# ---------------------------------------------------------------------------------------------
# States

STATE_NAMES: dict[str, str] = {
    "AL": "ALABAMA", "AK": "ALASKA", "AZ": "ARIZONA", "AR": "ARKANSAS", "CA": "CALIFORNIA",
    "CO": "COLORADO", "CT": "CONNECTICUT", "DE": "DELAWARE", "FL": "FLORIDA", "GA": "GEORGIA",
    "HI": "HAWAII", "ID": "IDAHO", "IL": "ILLINOIS", "IN": "INDIANA", "IA": "IOWA",
    "KS": "KANSAS", "KY": "KENTUCKY", "LA": "LOUISIANA", "ME": "MAINE", "MD": "MARYLAND",
    "MA": "MASSACHUSETTS", "MI": "MICHIGAN", "MN": "MINNESOTA", "MS": "MISSISSIPPI",
    "MO": "MISSOURI", "MT": "MONTANA", "NE": "NEBRASKA", "NV": "NEVADA", "NH": "NEW HAMPSHIRE",
    "NJ": "NEW JERSEY", "NM": "NEW MEXICO", "NY": "NEW YORK", "NC": "NORTH CAROLINA",
    "ND": "NORTH DAKOTA", "OH": "OHIO", "OK": "OKLAHOMA", "OR": "OREGON", "PA": "PENNSYLVANIA",
    "RI": "RHODE ISLAND", "SC": "SOUTH CAROLINA", "SD": "SOUTH DAKOTA", "TN": "TENNESSEE",
    "TX": "TEXAS", "UT": "UTAH", "VT": "VERMONT", "VA": "VIRGINIA", "WA": "WASHINGTON",
    "WV": "WEST VIRGINIA", "WI": "WISCONSIN", "WY": "WYOMING",
    "DC": "DISTRICT OF COLUMBIA",
    "AS": "AMERICAN SAMOA", "GU": "GUAM", "MP": "NORTHERN MARIANA ISLANDS", "PR": "PUERTO RICO",
    "VI": "U.S. VIRGIN ISLANDS",
}
TERRITORIES: frozenset[str] = frozenset({"AS", "GU", "MP", "PR", "VI"})
_STATES_ONLY = frozenset(STATE_NAMES) - TERRITORIES - {"DC"}

_STATE_ALIASES: dict[str, str] = {
    "WASHINGTON DC": "DC", "WASHINGTON D C": "DC",
    "VIRGIN ISLANDS": "VI", "US VIRGIN ISLANDS": "VI", "U S VIRGIN ISLANDS": "VI",
    "UNITED STATES VIRGIN ISLANDS": "VI",
    "CNMI": "MP", "NORTHERN MARIANAS": "MP", "COMMONWEALTH OF THE NORTHERN MARIANA ISLANDS": "MP",
    "COMMONWEALTH OF PUERTO RICO": "PR",
}
# Every accepted spelling (tidied, see _state_words) -> code.
_STATE_SPELLINGS: dict[str, str] = {}
for _code, _name in STATE_NAMES.items():
    _STATE_SPELLINGS[_name.replace(".", "")] = _code
    for _long_word, _short_word in (("NORTH ", "N "), ("SOUTH ", "S "), ("WEST ", "W ")):
        if _name.startswith(_long_word):
            _STATE_SPELLINGS[_short_word + _name[len(_long_word):]] = _code
_STATE_SPELLINGS.update(_STATE_ALIASES)
_STATE_CHOICES = tuple(_STATE_SPELLINGS)

# A typo is read as a state only when the closest spelling is within this many edits
# (OSA: insert, delete, substitute, swap neighbours) ...
_STATE_MAX_EDITS_SHORT = 1      # names of fewer than 8 letters
_STATE_MAX_EDITS_LONG = 2
# ... and every spelling of any *other* state is at least this many edits further away, so
# that a near-miss between two real states (KANSAS/ARKANSAS, VIRGINIA/WEST VIRGINIA) is
# reported as unknown rather than guessed.
_STATE_MARGIN = 2


def _state_words(raw: RawValue) -> str:
    words = re.sub(r"[^A-Z0-9 ]+", " ", _ascii_upper(_text(raw)).replace(".", ""))
    return " ".join(words.split())


@lru_cache(maxsize=1024)
def state_code(raw: RawValue) -> tuple[str | None, str | None]:
    """USPS code for a STATE cell, and a note when the text was corrected or unreadable.

    Accepts full names in any case and spacing, USPS codes ("FL", "d.c."), a few common
    aliases (CNMI, Washington DC, US Virgin Islands) and typos that are unambiguously one
    state (see ``_STATE_MAX_EDITS_*`` and ``_STATE_MARGIN``).
    """
    words = _state_words(raw)
    if not words:
        return None, "state blank"
    if words in _STATE_SPELLINGS:
        return _STATE_SPELLINGS[words], None
    compact = words.replace(" ", "")
    if len(compact) == 2:
        if compact in STATE_NAMES:
            return compact, None
        return None, f"state {_text(raw)!r} is not a known USPS code"
    max_edits = _STATE_MAX_EDITS_SHORT if len(compact) < 8 else _STATE_MAX_EDITS_LONG
    best_code = None
    best = second = 99
    for choice, distance, _ in process.extract(words, _STATE_CHOICES, scorer=OSA.distance, limit=None):
        code = _STATE_SPELLINGS[choice]
        if best_code is None:
            best_code, best = code, distance
        elif code != best_code:
            second = distance
            break
    if best_code is not None and best <= max_edits and second - best >= _STATE_MARGIN:
        return best_code, f"state {_text(raw)!r} read as {best_code} ({STATE_NAMES[best_code]})"
    return None, f"state {_text(raw)!r} not recognised"


def is_state(code: str | None) -> bool:
    """True for the 50 states only.

    The District of Columbia is neither a state nor in ``TERRITORIES``; the territories
    (American Samoa, Guam, Northern Mariana Islands, Puerto Rico, US Virgin Islands) are in
    ``TERRITORIES``.  Count "states and territories" as ``is_state(c) or c in TERRITORIES``
    plus DC where a report wants it.
    """
    return code in _STATES_ONLY


# ---------------------------------------------------------------------------------------------
# Support model, agency type, county

_MODEL_SPELLINGS: dict[str, str] = {
    **{code: code for code in MODEL_NAMES},
    **{name.upper(): code for code, name in MODEL_NAMES.items()},
    "JAIL ENFORCEMENT": "JEM", "TASK FORCE": "TFM", "WARRANT SERVICE": "WSO",
    "WARRANT SERVICE OFFICERS": "WSO", "WARRANT SERVICES OFFICER": "WSO",
    "WARRANT SERVICE OFFICE": "WSO",
}
_MODEL_FULL_NAMES = {name.upper(): code for code, name in MODEL_NAMES.items()}
_MODEL_KEYWORDS = {"JAIL": "JEM", "TASK": "TFM", "WARRANT": "WSO"}
_MODEL_MAX_EDITS = 3    # the three names are > 10 edits apart, so a match within 3 is unique


@lru_cache(maxsize=256)
def _model(raw: RawValue) -> tuple[str | None, str | None]:
    text = _text(raw)
    words = " ".join(re.sub(r"[^A-Z0-9]+", " ", _ascii_upper(text)).split())
    if not words or words in _BLANKS or text.upper() in _BLANKS:
        return None, None
    code = _MODEL_SPELLINGS.get(words) or _MODEL_SPELLINGS.get(words.replace(" ", ""))
    if code is None:
        match = process.extractOne(words, tuple(_MODEL_FULL_NAMES), scorer=OSA.distance,
                                   score_cutoff=_MODEL_MAX_EDITS)
        if match is not None:
            code = _MODEL_FULL_NAMES[match[0]]
    if code is None:
        found = {c for word, c in _MODEL_KEYWORDS.items() if word in words.split()}
        code = found.pop() if len(found) == 1 else None
    if code is None:
        return None, f"support type {text!r} not recognised"
    if words in (code, MODEL_NAMES[code].upper()):
        return code, None
    return code, f"support type {text!r} read as {code} ({MODEL_NAMES[code]})"


def model_code(raw: RawValue) -> str | None:
    """"JEM" | "TFM" | "WSO" for a SUPPORT TYPE cell; None for blank or unrecognised text."""
    return _model(raw)[0]


_AGENCY_TYPE_SPELLINGS = {
    "COUNTY": "County", "MUNICIPALITY": "Municipality", "MUNCIPALITY": "Municipality",
    "MUNICIPAL": "Municipality", "STATE": "State Agency", "STATE AGENCY": "State Agency",
}
_AGENCY_TYPE_MAX_EDITS = 2


@lru_cache(maxsize=256)
def _agency_type(raw: RawValue) -> tuple[str | None, str | None]:
    text = _text(raw)
    if text.upper() in _BLANKS:
        return None, None
    words = " ".join(re.sub(r"[^A-Z]+", " ", _ascii_upper(text)).split())
    clean = _AGENCY_TYPE_SPELLINGS.get(words)
    if clean is None:
        match = process.extractOne(words, tuple(_AGENCY_TYPE_SPELLINGS), scorer=OSA.distance,
                                   score_cutoff=_AGENCY_TYPE_MAX_EDITS)
        if match is None:
            return None, f"type {text!r} not recognised"
        clean = _AGENCY_TYPE_SPELLINGS[match[0]]
    if words == clean.upper():
        return clean, None
    return clean, f"type {text!r} read as {clean}"


def agency_type(raw: RawValue) -> str | None:
    """"County" | "Municipality" | "State Agency" for a TYPE cell; None for blank/#N/A/unknown."""
    return _agency_type(raw)[0]


@lru_cache(maxsize=4096)
def county_name(raw: RawValue) -> str | None:
    """The COUNTY cell with whitespace tidied; None for blank and "#N/A"-style fillers.

    Spelling is kept as given ("Guadalupe Conty"): the county is reported, not keyed.
    """
    text = _text(raw)
    return None if text.upper() in _BLANKS else text


# ---------------------------------------------------------------------------------------------
# Agency names

@lru_cache(maxsize=16384)
def agency_display(raw: RawValue) -> str:
    """The agency name as ICE wrote it, with whitespace tidied and curly quotes straightened."""
    return _text(raw).translate(_APOSTROPHES)


# Word -> replacement, applied to whole words of the upper-cased name.
_ABBREVIATIONS: dict[str, str] = {
    "CNTY": "COUNTY",
    "DEPT": "DEPARTMENT", "DPT": "DEPARTMENT",
    "PD": "POLICE DEPARTMENT",
    "TWP": "TOWNSHIP", "TWSP": "TOWNSHIP",
    "PCT": "PRECINCT",
    "BORO": "BOROUGH",
    "DIST": "DISTRICT",
    "DIV": "DIVISION",
    "HWY": "HIGHWAY",
    "UNIV": "UNIVERSITY",
}
# Abbreviations that are only safe as the first word of a place name ("St. Lucie",
# "Mt. Holly Springs"); before one of _NOT_A_NAME they are left alone ("Penn St University").
_NAME_PREFIXES = {"ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT"}
_NOT_A_NAME = frozenset({"POLICE", "DEPARTMENT", "OFFICE", "UNIVERSITY", "COLLEGE", "PATROL",
                         "COUNTY", "SHERIFFS", "SHERIFF", "JAIL", "AND", "OF", "STATE", "HIGHWAY",
                         "DIVISION", "BUREAU", "BOARD", "ATTORNEY", "JUSTICE", "CONSTABLE", "MARSHAL",
                         "SO", "CO"})


def _names_a_place(word: str) -> bool:
    """Whether ``word``, following St./Ft./Mt., can start a place name.  The word is read as
    it will be expanded, so "MT Dept of Justice" (Montana's) keeps its MT: DEPT is DEPARTMENT."""
    expanded = _ABBREVIATIONS.get(word, word).split()[0] if word else ""
    return expanded.isalpha() and expanded not in _NOT_A_NAME
# "Sheriff Office" and "Sheriff's Office" are the same office; the apostrophe is dropped anyway.
_POSSESSIVES = frozenset({"SHERIFF", "CONSTABLE", "MARSHAL", "ATTORNEY"})
_ORDINALS = ("FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH", "SIXTH", "SEVENTH", "EIGHTH",
             "NINTH", "TENTH", "ELEVENTH", "TWELFTH", "THIRTEENTH", "FOURTEENTH", "FIFTEENTH",
             "SIXTEENTH", "SEVENTEENTH", "EIGHTEENTH", "NINETEENTH", "TWENTIETH")
_ORDINAL_NUMBERS = {word: f"{n}{ {1: 'ST', 2: 'ND', 3: 'RD'}.get(n, 'TH')}"
                    for n, word in enumerate(_ORDINALS, start=1)}
_INITIALISM = re.compile(r"\b(?:[A-Z]\.){2,}")
_APOSTROPHE_CHARS = re.compile(r"['\u2019\u2018\u02bc\u00b4`]")
_NON_WORD = re.compile(r"[^A-Z0-9]+")


def _expand(words: list[str]) -> list[str]:
    out: list[str] = []
    last = len(words) - 1
    for i, word in enumerate(words):
        following = words[i + 1] if i < last else ""
        if word in _ABBREVIATIONS:
            out.extend(_ABBREVIATIONS[word].split())
        elif word == "CO" and i > 0:
            out.append("COUNTY")          # first word "CO" could be Colorado
        elif word == "SO" and (i == last or (out and out[-1] in ("COUNTY", "PARISH"))):
            out.extend(("SHERIFFS", "OFFICE"))   # elsewhere "So" is South ("So Middleton Twp")
        elif word in _NAME_PREFIXES and _names_a_place(following):
            out.append(_NAME_PREFIXES[word])
        else:
            out.append(_ORDINAL_NUMBERS.get(word, word))
    for i in range(len(out) - 1):
        if out[i] in _POSSESSIVES and out[i + 1] in ("OFFICE", "DEPARTMENT"):
            out[i] += "S"
    return out


@lru_cache(maxsize=16384)
def agency_key(raw: RawValue) -> str:
    """Natural-key form of an agency name (see the module docstring for the canonical form).

    >>> agency_key("St. Johns County Sheriff’s Office")
    'SAINT JOHNS COUNTY SHERIFFS OFFICE'
    """
    text = _ascii_upper(agency_display(raw))
    text = _INITIALISM.sub(lambda m: m.group().replace(".", ""), text)
    text = _APOSTROPHE_CHARS.sub("", text).replace("&", " AND ")
    return " ".join(_expand(_NON_WORD.sub(" ", text).split()))


# Words that distinguish agencies too weakly to keep apart two names for rename matching.
_GENERIC_WORDS = frozenset({"THE", "OF", "AND", "FOR", "AT", "IN", "OFFICE", "DEPARTMENT",
                            "CITY", "TOWN", "VILLAGE"})
_SINGULAR = {word + "S": word for word in _POSSESSIVES}


@lru_cache(maxsize=16384)
def agency_loose(raw: RawValue) -> str:
    """A looser form of ``agency_key`` for pairing renames: generic words dropped, possessives
    made singular.  "City of Miami Police Department" and "Miami Police Dept" → "MIAMI POLICE".
    Not a key: different agencies may share it ("X Sheriff's Office" / "X Sheriff's Department").
    """
    words = [_SINGULAR.get(w, w) for w in agency_key(raw).split() if w not in _GENERIC_WORDS]
    return " ".join(words)


# ---------------------------------------------------------------------------------------------
# Dates

ENACTED_YEAR = 1996                 # 287(g) was added to the INA by IIRIRA in 1996
_FUTURE_YEARS = 1                   # a signature date after next year is a typo
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_MONTHS = {name[:3]: n for n, name in enumerate(
    ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
     "OCTOBER", "NOVEMBER", "DECEMBER"), start=1)}
# month/day/year; the second separator may be missing ('05/082025'), the year then 4 digits.
_NUMERIC_DATE = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*([/.-])\s*(\d{2,5})|(\d{4}))")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T][\d:.]+)?")
_MONTH_FIRST = re.compile(r"([A-Z]{3,})\.?\s+(\d{1,2})(?:ST|ND|RD|TH)?,?\s+(\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})(?:ST|ND|RD|TH)?\s+([A-Z]{3,})\.?,?\s+(\d{4})")


def _latest_year() -> int:
    # The clock is read once per new value (results are cached); reprocessing an old
    # snapshot years later can only accept more dates, never fewer.
    return dt.date.today().year + _FUTURE_YEARS


def _plausible(year: int) -> bool:
    return ENACTED_YEAR <= year <= _latest_year()


def _one_edit_years(year: str) -> set[str]:
    digits = "0123456789"
    edits = {year[:i] + d + year[i + 1:] for i in range(len(year)) for d in digits}
    edits |= {year[:i] + year[i + 1] + year[i] + year[i + 2:] for i in range(len(year) - 1)}
    edits |= {year[:i] + year[i + 1:] for i in range(len(year))}
    edits |= {year[:i] + d + year[i:] for i in range(len(year) + 1) for d in digits}
    return {e for e in edits if len(e) == 4 and e != year}


def _checked(year: str, month: int, day: int, raw: RawValue,
             note: str | None) -> tuple[dt.date | None, str | None]:
    """The date if it exists and its year is plausible, else a unique one-edit year fix."""
    candidates = [year] if _plausible(int(year)) else sorted(_one_edit_years(year))
    dates = []
    for candidate in candidates:
        if not _plausible(int(candidate)):
            continue
        try:
            dates.append(dt.date(int(candidate), month, day))
        except ValueError:
            continue
    if candidates == [year]:
        return (dates[0], note) if dates else (None, f"signed {raw_text(raw)!r} is not a date")
    if len(dates) == 1:
        return dates[0], f"signed {raw_text(raw)!r}: year {year} read as {dates[0].year}"
    return None, f"signed {raw_text(raw)!r}: year {year} is implausible"


def _parse_date_text(text: str, raw: RawValue) -> tuple[dt.date | None, str | None]:
    upper = text.upper()
    if m := _ISO_DATE.fullmatch(upper):
        return _checked(m[1], int(m[2]), int(m[3]), raw, None)
    if m := _NUMERIC_DATE.fullmatch(upper):
        first, second, year = int(m[1]), int(m[2]), m[4] or m[5]
        notes = []
        if not m[3]:
            notes.append("separator missing")
        if len(year) == 2:
            year = f"20{year}"
            notes.append(f"two-digit year read as {year}")
        month, day = first, second
        if first > 12 >= second:
            month, day = second, first
            notes.append("day and month swapped")
        note = f"signed {text!r} read as {year}-{month:02d}-{day:02d} ({', '.join(notes)})" if notes else None
        return _checked(year, month, day, raw, note)
    for pattern, month_group, day_group in ((_MONTH_FIRST, 1, 2), (_DAY_FIRST, 2, 1)):
        if (m := pattern.fullmatch(upper)) and m[month_group][:3] in _MONTHS:
            return _checked(m[3], _MONTHS[m[month_group][:3]], int(m[day_group]), raw, None)
    if upper.isdigit() and len(upper) == 5:
        return _from_serial(int(upper), raw)
    return None, f"signed {text!r} is not a date"


def _from_serial(serial: float, raw: RawValue) -> tuple[dt.date | None, str | None]:
    if not 1 <= serial < 2_958_466:     # Excel's own range: 1900-01-01 .. 9999-12-31
        return None, f"signed {raw_text(raw)!r} is not an Excel date number"
    value = _EXCEL_EPOCH + dt.timedelta(days=int(serial))
    return _checked(f"{value.year:04d}", value.month, value.day, raw, None)


@lru_cache(maxsize=4096, typed=True)
def signed_date(raw: RawValue) -> tuple[dt.date | None, str | None]:
    """The SIGNED cell as a date, and a note for text that had to be corrected or was unreadable.

    Real dates and Excel serial numbers are taken as they are; text is read as US month/day
    (``5/8/2025``, ``05/082025`` with its missing slash, ``2025-05-08``, ``May 8, 2025``).
    Years before 1996 or after next year are refused unless exactly one one-edit change of the
    year (substitute, swap, insert or delete a digit) gives a plausible date.
    """
    if isinstance(raw, bool):
        return None, f"signed {raw!r} is not a date"
    if isinstance(raw, (dt.datetime, dt.date)):
        return _checked(f"{raw.year:04d}", raw.month, raw.day, raw, None)
    if isinstance(raw, (int, float)):
        return _from_serial(raw, raw)
    text = _text(raw)
    if text.upper() in _BLANKS:
        return None, None
    return _parse_date_text(text, raw)


# ---------------------------------------------------------------------------------------------
# Links

ICE_ORIGIN = "https://www.ice.gov"
_SAFELINKS_HOST = "safelinks.protection.outlook.com"
_SCHEME_SLASHES = re.compile(r"(?i)^(https?):(/*)")
_VIEWER_WRAPPER = re.compile(r"(?i)^chrome-extension://[a-z]+/(?=https?:)")
_URL_DROPPED = re.compile(r"[\t\r\n]")


def _short(text: str | None, limit: int = 100) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "..."


@lru_cache(maxsize=256)
def link_status(text: RawValue) -> str | None:
    """"link" | "pending" | None from the text of an MOA/ADDENDUM cell."""
    words = _text(text).lower()
    if "pending" in words:
        return "pending"
    if words.startswith("link"):
        return "link"
    return None


@lru_cache(maxsize=16384)
def clean_url(url: str | None) -> tuple[str | None, str | None]:
    """A hyperlink target made absolute and unwrapped, and a note when it was changed.

    Decisions: the scheme is kept as given (``http://www.ice.gov`` stays http: the report
    shows what ICE published); scheme and host are lower-cased; ``https:/host`` gets its
    second slash; ``/doclib/...`` and ``www.`` links are resolved against https://www.ice.gov;
    Outlook SafeLinks and the Acrobat Chrome viewer wrapper are replaced by the URL they
    wrap; spaces are percent-encoded.  Anything that is not then an http(s) URL with a host
    (javascript:, file:, data:, mailto:, bare words) is refused: None with a note.
    """
    return _clean_url(url, depth=0)


def _clean_url(url: str | None, depth: int) -> tuple[str | None, str | None]:
    # As browsers do (WHATWG URL): tabs and newlines anywhere are dropped, spaces at the ends.
    text = (url or "").strip(" \t\r\n\u00a0\u200b\ufeff")
    if not text:
        return None, None
    notes: list[str] = []
    if _URL_DROPPED.search(text):
        text = _URL_DROPPED.sub("", text)
        notes.append("tabs and line breaks removed")
    if _VIEWER_WRAPPER.match(text):
        text = _VIEWER_WRAPPER.sub("", text)
        notes.append("browser viewer wrapper removed")
    if m := _SCHEME_SLASHES.match(text):
        if m[2] != "//":
            text = f"{m[1]}://{text[m.end():]}"
            notes.append("slashes after the scheme repaired")
    elif text.startswith("//"):
        text = "https:" + text
        notes.append("scheme-relative link read as https")
    elif text.startswith("/"):
        text = ICE_ORIGIN + text
        notes.append(f"relative link resolved against {ICE_ORIGIN}")
    elif text.lower().startswith("www."):
        text = "https://" + text
        notes.append("link without scheme read as https")
    if " " in text or "\u00a0" in text:
        text = text.replace(" ", "%20").replace("\u00a0", "%20")
        notes.append("spaces percent-encoded")
    try:
        parts = urlsplit(text)
    except ValueError:
        return None, f"link {_short(url)!r} is not a URL"
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        return None, f"link {_short(url)!r} refused: not an http(s) URL"
    if (host == _SAFELINKS_HOST or host.endswith("." + _SAFELINKS_HOST)) and depth < 3:
        inner = parse_qs(parts.query).get("url")
        if not inner:
            return None, f"link {_short(url)!r} is a SafeLinks wrapper without a target"
        clean, inner_note = _clean_url(inner[0], depth + 1)
        note = "Outlook SafeLinks unwrapped" + (f"; {inner_note}" if inner_note else "")
        return clean, note
    clean = urlunsplit((scheme, parts.netloc.lower(), parts.path, parts.query, parts.fragment))
    return clean, "; ".join(notes) or None


def link_cell(text: RawValue, url: str | None) -> tuple[str | None, str | None]:
    """Status ("link" | "pending" | None) and cleaned URL of an MOA/ADDENDUM cell.

    A cell whose text says nothing readable but carries a usable hyperlink counts as "link".
    """
    status, clean, _ = _link("link", text, url)
    return status, clean


@lru_cache(maxsize=16384)
def _link(column: str, text: RawValue, url: str | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    status = link_status(text)
    clean, url_note = clean_url(url)
    notes = []
    if url_note:
        notes.append(f"{column} link: {url_note}")
    if status is None and _text(text):
        notes.append(f"{column} text {_text(text)!r} not recognised")
    if status is None and clean is not None:
        status = "link"
    return status, clean, tuple(notes)


# ---------------------------------------------------------------------------------------------
# Rows and tables

@dataclass(frozen=True, slots=True)
class Duplicate:
    """Rows of one list that share a natural key.

    ``exact``: the rows are the same row repeated — equal compared values and equal raw
    texts once whitespace is tidied (so a stray trailing space does not make them differ).
    """

    key: AgreementKey           # occurrence 1
    row_numbers: tuple[int, ...]
    exact: bool


@dataclass(frozen=True, slots=True)
class NormalisedList:
    """One list, cleaned: one agreement per data row, in source order."""

    agreements: tuple[Agreement, ...]
    duplicates: tuple[Duplicate, ...] = ()


def normalise_row(row: RawRow) -> Agreement:
    """The row cleaned into an agreement with occurrence 1 (``normalise_table`` numbers repeats).

    ``raw`` holds the source text of every canonical cell the row has (a column the sheet
    lacks is absent, an empty cell is ""), dates as ISO text, hyperlink targets as written
    under "<column>_url".  A row whose state or model cannot be read still becomes an
    agreement, keyed "??" / "UNKNOWN", with a note.
    """
    cells, links = row.cells, row.links
    entry = _shared_rows.get((id(cells), id(links)))
    if entry is not None and entry[0] is cells and entry[1] is links:
        template = entry[2]
        if template is None:
            template = _clean_template(cells, links)
            _shared_rows[id(cells), id(links)] = (cells, links, template)
    else:
        template = _clean_template(cells, links)
    return Agreement(
        template.key, template.agency, template.agency_type, template.county, template.signed, template.moa,
        template.moa_url, template.addendum, template.addendum_url, row.row_number, template.raw, template.notes,
    )


# Rows read ahead (pipeline.reading.RowTable) share their mappings with the same rows of other
# documents: those are found by the mappings' identity, without hashing their contents.  Only
# rows shared that way are kept here (each with its mappings, so that an id cannot be reused
# while it is in here; a RawRow's mappings are never changed once built), as many as the
# reader's table holds, up to a limit.
_SHARED_ROWS_LIMIT = 65_536
_shared_rows: dict[tuple[int, int], tuple[Mapping[str, RawValue], Mapping[str, str], Agreement | None]] = {}


def share_row(cells: Mapping[str, RawValue], links: Mapping[str, str]) -> None:
    """A row's mappings, to be shared by every RawRow of that row: ``normalise_row`` cleans
    them once and then finds them by identity."""
    if len(_shared_rows) >= _SHARED_ROWS_LIMIT:
        _shared_rows.clear()
    _shared_rows[id(cells), id(links)] = (cells, links, None)


def forget_shared_rows() -> None:
    """Let go of the rows given to ``share_row`` (their reader's table is gone)."""
    _shared_rows.clear()


def _clean_template(cells: Mapping[str, RawValue], links: Mapping[str, str]) -> Agreement:
    # Most rows of a list are the same from one publication to the next, only their row
    # number moves: clean each distinct row once.
    try:
        return _clean_row(tuple(cells.items()), tuple(links.items()))
    except TypeError:  # an unhashable cell value: clean it without the cache
        return _clean_cells(cells, links)


@lru_cache(maxsize=65536)
def _clean_row(cells: tuple, links: tuple) -> Agreement:
    return _clean_cells(dict(cells), dict(links))


def _clean_cells(cells: Mapping[str, RawValue], links: Mapping[str, str]) -> Agreement:
    state, state_note = state_code(cells.get(STATE))
    model, model_note = _model(cells.get(MODEL))
    kind, kind_note = _agency_type(cells.get(AGENCY_TYPE))
    signed, signed_note = signed_date(cells.get(SIGNED))
    moa, moa_url, moa_notes = _link(MOA, cells.get(MOA), links.get(MOA))
    addendum, addendum_url, addendum_notes = _link(ADDENDUM, cells.get(ADDENDUM), links.get(ADDENDUM))
    agency_cell = cells.get(AGENCY)
    agency = agency_display(agency_cell)

    notes = [n for n in (state_note, model_note, kind_note, signed_note) if n]
    if model is None and model_note is None:
        notes.append("support type blank")
    if not agency:
        notes.append("agency name blank")
    notes += moa_notes
    notes += addendum_notes

    raw = {column: encode_controls(value) if value.__class__ is str else raw_text(value)
           for column, value in cells.items()}
    if links:
        raw.update((f"{column}_url", url) for column, url in links.items())
    return Agreement(
        key=AgreementKey(state or UNKNOWN_STATE, agency_key(agency_cell), model or UNKNOWN_MODEL),
        agency=agency,
        agency_type=kind,
        county=county_name(cells.get(COUNTY)),
        signed=signed,
        moa=moa,
        moa_url=moa_url,
        addendum=addendum,
        addendum_url=addendum_url,
        row_number=0,
        raw=raw,
        notes=tuple(notes),
    )


def _with_occurrence(agreement: Agreement, occurrence: int) -> Agreement:
    key = agreement.key
    return Agreement(
        AgreementKey(key.state, key.agency, key.model, occurrence), agreement.agency,
        agreement.agency_type, agreement.county, agreement.signed, agreement.moa,
        agreement.moa_url, agreement.addendum, agreement.addendum_url, agreement.row_number,
        agreement.raw, agreement.notes,
    )


def _comparable(agreement: Agreement) -> tuple:
    # Raw texts are compared with whitespace tidied: ICE's one real duplicate row
    # (participatingAgencies08202025pm rows 357/358) differs only by a trailing space in COUNTY.
    raw = sorted((column, _text(text)) for column, text in agreement.raw.items())
    return agreement.compared_values(), raw


# an agreement's key but its occurrence (1 for every row cleaned by normalise_row), as a plain
# tuple: hashed in C, unlike the dataclass
_KEY_PARTS = attrgetter("key.state", "key.agency", "key.model")


def normalise_table(table: SourceTable) -> NormalisedList:
    """Every row of the table cleaned, none dropped or merged; rows sharing a key numbered
    2, 3, ... in row order and reported as a ``Duplicate``."""
    agreements = list(map(normalise_row, table.rows))
    keys = list(map(_KEY_PARTS, agreements))
    if len(set(keys)) == len(keys):     # the usual case, in C: no key repeated
        return NormalisedList(tuple(agreements))
    by_key: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_key[key].append(index)
    duplicates = []
    for indexes in by_key.values():
        if len(indexes) == 1:
            continue
        for occurrence, index in enumerate(indexes[1:], start=2):
            agreements[index] = _with_occurrence(agreements[index], occurrence)
        group = [agreements[i] for i in indexes]
        first = _comparable(group[0])
        exact = all(_comparable(a) == first for a in group[1:])
        duplicates.append(Duplicate(group[0].key, tuple(a.row_number for a in group), exact))
    return NormalisedList(tuple(agreements), tuple(duplicates))
