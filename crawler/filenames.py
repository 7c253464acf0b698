"""What ICE's list file names say: which list, as of which day, which edition of the day.

Forms seen (see tests/fixtures/ice-287g/SOURCES.md):

- ``participatingAgencies.xlsx``: the undated URL of February 2025; no date.
- ``participatingAgencies-20250221214937.xlsx``: an Internet Archive capture of that URL; the
  suffix is the capture time (UTC), and the list is taken as of that day.
- ``participatingAgencies<MMDDYYYY><part>.xlsx`` from March 2025, ``part`` a half of the day
  (``am``, ``mid``, ``pm`` or nothing) and an edition that replaces it (``2`` as in ``pm2``,
  ``B``/``_b`` as in ``amB``, ``am_b``, ``pm_b``); ``ParticipatingAgencies`` also occurs, and
  copies add `` (1)`` or `` copy``.
- From September 2026 (as linked, or in Content-Disposition): a two-digit year and other
  prefixes or a singular, ``287gParticipatingAgencies091526pm.xlsx``,
  ``ParticipatingAgency091826am.xlsx``; the six digits are read as MMDDYY in the 2000s.

Order within a day: ``am`` < ``mid`` < ``pm`` < no half; an edition comes right after the file
of the same half (``am`` < ``amB`` < ``pm`` < ``pm2`` = ``pm_b``); a copy after its original.

Dated names have typos: ``090022025`` (a doubled digit), ``01052025`` (the old year, written in
January 2026), ``11114025`` (a wrong year digit).  The rule that reads them (no special cases):

1. The digits, read as MMDDYYYY, give the date if it is *plausible*: no earlier than the first
   dated names (2025-03-01) and no later than a week after ``today``.
2. Otherwise the candidates are the plausible dates whose MMDDYYYY digits are one edit (a
   digit inserted, deleted or replaced) away from the digits written.  One candidate: taken.
3. Several: those that keep the month and day as written are preferred, the year nearest to
   the one written first.  Month and day are typed afresh for each file; the year is typed
   from habit, and a stale year in early January is the classic slip (``01052025``).
4. Otherwise there is no date, and ``note`` says why.  Every correction also sets ``note``.

So ``090022025`` is 2025-09-02 (the only plausible deletion), ``01052025`` is 2026-01-05 (step 3;
the month edits 2025-03-05 ... 2025-11-05 are set aside), and ``11114025`` is 2025-11-11 (the
only plausible edit: 4025 -> 2025).  2025-11-14 would also fit that name, but only with two
edits (a doubled 1 and a lost 2); allowing two edits would make nearly every name ambiguous.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote

from diff.records import ListName

__all__ = [
    "FIRST_DATED_NAME",
    "ListFileName",
    "file_name_from_content_disposition",
    "parse_list_file_name",
]

FIRST_DATED_NAME = dt.date(2025, 3, 1)  # ICE began dating its list file names in March 2025
_FUTURE_SLACK = dt.timedelta(days=7)
_HALF_ORDER = {"am": 0, "mid": 1, "pm": 2, "": 3}   # a name without a half: after the day's halves
_EDITION_ORDER = {"": 0, "2": 1, "b": 1}

_NAME = re.compile(
    r"(?P<prefix>[\w\- ]*?)"
    r"(?P<list>participating|pending)[ _-]?agenc(?:y|ies)"
    r"(?:-(?P<capture>\d{14})|[ _-]?(?P<digits>\d+)(?P<half>am|mid|pm)?(?P<edition>_?b|2)?)?"
    r"(?P<copy>\s*\(\d+\)|\s*-?\s*copy(?:\s*\(?\d+\)?)?)?"
    r"(?:\.xlsx?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ListFileName:
    """What one list file name says."""

    file_name: str
    declared_list: ListName | None  # the list the name announces (ICE once swapped the files)
    as_of: dt.date | None
    captured_at: dt.datetime | None  # Internet Archive capture time, UTC
    suffix: str  # half and edition, lower case: "am", "mid", "pm", "pm2", "amb", "pmb", "b", ""
    note: str | None = None  # why the name was read other than literally, or could not be
    copy: bool = False  # a copy of another file (`` (1)``, `` copy``): after it in a backfill

    @property
    def half(self) -> str:
        """``am``, ``mid``, ``pm`` or "" (none written)."""
        return self.suffix.rstrip("2b")

    @property
    def edition(self) -> str:
        """"" for the first file of a half, else ``2`` or ``b`` (a later edition of it)."""
        return self.suffix[len(self.half):]

    @property
    def sort_key(self) -> tuple[dt.date, int, int, bool, str]:
        """Order for backfills: by day (undated names, used before dated ones, first), then
        am < mid < pm < no half, an edition right after its half, a copy after its original."""
        return (self.as_of or dt.date.min, _HALF_ORDER.get(self.half, len(_HALF_ORDER)),
                _EDITION_ORDER.get(self.edition, len(_EDITION_ORDER)), self.copy, self.file_name)


def parse_list_file_name(name: str, *, today: dt.date | None = None) -> ListFileName:
    """Read an ICE list file name (a bare name; directories are ignored)."""
    file_name = re.split(r"[/\\]", name)[-1]
    today = today or dt.datetime.now(dt.UTC).date()
    match = _NAME.fullmatch(file_name.strip())
    if match is None:
        return ListFileName(file_name, None, None, None, "", f"{file_name!r} is not an ICE list file name")
    declared: ListName = "participating" if match["list"].lower() == "participating" else "pending"
    copy = bool(match["copy"])
    if match["capture"]:
        captured_at, note = _capture_time(match["capture"], today)
        as_of = captured_at.date() if captured_at else None
        return ListFileName(file_name, declared, as_of, captured_at, "", note, copy)
    suffix = (match["half"] or "").lower() + (match["edition"] or "").lower().lstrip("_")
    if not match["digits"]:
        return ListFileName(file_name, declared, None, None, suffix, None, copy)
    as_of, note = _read_date_digits(match["digits"], today)
    return ListFileName(file_name, declared, as_of, None, suffix, note, copy)


def _capture_time(digits: str, today: dt.date) -> tuple[dt.datetime | None, str | None]:
    try:
        captured_at = dt.datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None, f"capture time {digits!r} is not a valid YYYYMMDDhhmmss"
    if captured_at.date() > today + _FUTURE_SLACK:
        return None, f"capture time {digits!r} lies in the future"
    return captured_at, None


def _read_date_digits(digits: str, today: dt.date) -> tuple[dt.date | None, str | None]:
    """(date, note) for the MMDDYYYY (or MMDDYY) digits of a dated name, by the rule in the
    module doc."""
    latest = today + _FUTURE_SLACK
    literal = _mmddyyyy(digits)
    if literal is not None and FIRST_DATED_NAME <= literal <= latest:
        return literal, None
    if literal is None:
        why = f"{digits!r} is not a valid MMDDYYYY or MMDDYY date"
    elif literal < FIRST_DATED_NAME:
        why = f"{digits!r} reads as {literal}, before dated names began ({FIRST_DATED_NAME})"
    else:
        why = f"{digits!r} reads as {literal}, after {latest}"
    candidates = sorted(
        {date for text in _one_edit_away(digits) if (date := _mmddyyyy(text)) and FIRST_DATED_NAME <= date <= latest}
    )
    if len(candidates) == 1:
        return candidates[0], f"{why}; read as {candidates[0]}, the only plausible date one digit edit away"
    same_day = [date for date in candidates if f"{date:%m%d}" == digits[:4]]
    if same_day:
        written_year = _written_year(digits)
        nearest = min(abs(date.year - written_year) for date in same_day)
        best = [date for date in same_day if abs(date.year - written_year) == nearest]
        if len(best) == 1:
            others = ", ".join(str(date) for date in candidates if date != best[0])
            return best[0], (
                f"{why}; read as {best[0]}: month and day as written, year corrected"
                + (f" (other dates one digit edit away: {others})" if others else "")
            )
    if not candidates:
        return None, f"{why}; no plausible date is one digit edit away"
    return None, f"{why}; ambiguous, could be {', '.join(str(date) for date in candidates)}"


def _written_year(digits: str) -> int:
    if len(digits) >= 8:
        return int(digits[4:8])
    if len(digits) == 6:
        return 2000 + int(digits[4:6])
    return 0


def _mmddyyyy(text: str) -> dt.date | None:
    """MMDDYYYY, or MMDDYY read in the 2000s (ICE's form from September 2026)."""
    if len(text) == 6:
        text = text[:4] + "20" + text[4:]
    if len(text) != 8:
        return None
    try:
        return dt.date(int(text[4:]), int(text[:2]), int(text[2:4]))
    except ValueError:
        return None


def _one_edit_away(digits: str) -> set[str]:
    """Every 8- or 6-digit string one insertion, deletion or substitution away from ``digits``."""
    found: set[str] = set()
    for length in (8, 6):
        if len(digits) == length + 1:
            found |= {digits[:i] + digits[i + 1 :] for i in range(len(digits))}
        elif len(digits) == length:
            found |= {digits[:i] + d + digits[i + 1 :] for i in range(length) for d in "0123456789" if d != digits[i]}
        elif len(digits) == length - 1:
            found |= {digits[:i] + d + digits[i:] for i in range(length) for d in "0123456789"}
    return found


# --- Content-Disposition (RFC 6266) -----------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAMETER = re.compile(
    rf"""\s*;\s*(?P<name>{_TOKEN})\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^;]*))""",
    re.DOTALL,
)
_EXTENDED_VALUE = re.compile(r"(?P<charset>[A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(?P<value>.*)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME_LENGTH = 255


def file_name_from_content_disposition(header_value: str | bytes | None) -> str | None:
    """The file name a Content-Disposition header gives (``filename*`` preferred over
    ``filename``), reduced to its last path component; None when there is none usable (or no
    header).  The header is untrusted: directories, control characters and names such as
    ``..`` are not let through.  RFC 2231 continuations (``filename*0=``) are not read."""
    if not header_value:
        return None
    text = _header_text(header_value)
    parameters: dict[str, str] = {}
    position = text.find(";")
    while 0 <= position < len(text):
        match = _PARAMETER.match(text, position)
        if match is None:
            break
        value = match["quoted"] if match["quoted"] is not None else (match["bare"] or "").strip()
        if match["quoted"] is not None:
            # Only \" and \\ are unescaped (as browsers and the email package do), so that a
            # Windows path sent raw keeps its backslashes and loses its folders below.
            value = re.sub(r'\\([\\"])', r"\1", value)
        parameters.setdefault(match["name"].lower(), value)
        position = match.end()
    name = None
    if "filename*" in parameters:
        name = _extended_value(parameters["filename*"])
    if name is None and "filename" in parameters:
        name = parameters["filename"]
    return _safe_file_name(name) if name is not None else None


def _header_text(header_value: str | bytes) -> str:
    if isinstance(header_value, str):
        return header_value
    try:
        return header_value.decode("utf-8")  # what servers send in practice
    except UnicodeDecodeError:
        return header_value.decode("latin-1")  # what HTTP defines


def _extended_value(value: str) -> str | None:
    """RFC 8187 ``charset'language'percent-encoded``; None when it cannot be decoded."""
    match = _EXTENDED_VALUE.fullmatch(value.strip())
    if match is None or match["charset"].lower() not in ("utf-8", "iso-8859-1"):
        return None
    try:
        return unquote(match["value"], encoding=match["charset"].lower(), errors="strict")
    except UnicodeDecodeError:
        return None


def _safe_file_name(name: str) -> str | None:
    name = _CONTROL.sub("", name)
    name = posixpath.basename(name.replace("\\", "/")).strip()
    if name in ("", ".", "..") or len(name) > _MAX_NAME_LENGTH:
        return None
    return name
