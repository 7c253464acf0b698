"""Figures reported in a text: numbers with what they count, where and when.  Pure functions.

``extract_figures(text)`` reads plain text (one paragraph per line, as ``crawler.news`` gives the
main text of a page) and returns one ``Figure`` per number that counts something we track:

=============  ==========================================================================
unit           recognised from
=============  ==========================================================================
agencies       "1,168 local agencies", "40 police departments", "sheriff's offices"
agreements     "324 agreements", "58 assistance programs", "MOAs", "partnerships"
officers       "300 officers", "deputies", "troopers"
arrests        "650 arrests", "arrested 90 people", "the arrests of 650 illegal aliens"
beds           "10,000 beds", "a 10,000-bed facility"
facilities     "eight facilities", "detention centers"
states         "39 states"
percent        "25 percent", "950%", "per cent"
USD            "$7,500", "$25 million", "3 million dollars"
=============  ==========================================================================

A number with no such unit is not a figure ("two recent polls", "Trump 2.0"); neither are
years, dates, times, phone numbers, ages, the "287" of 287(g), legal citations, numbers inside
links or handles, and anything in a promotional sentence ("60% off your membership").  A bare
number in a list ("Florida at 324 agreements, Texas with 296") takes the unit of the figure
before it; so does "up from 135" after a figure of the previous sentence.

Each figure carries its scope (``US``, ``state:XX``, ``county:Name County, XX`` or
``city:Name``), its date when the sentence gives one (or the dated line that closes an embedded
post), and its location in the text.  ``link_figure`` then ties a figure to a baseline figure
and to the list metric that measures it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from diff.baseline import BaselineFigure, Measure
from diff.normalise import STATE_NAMES

UNITS: tuple[str, ...] = (
    "agencies", "agreements", "officers", "arrests", "beds", "facilities", "states", "percent", "USD",
)
COUNT_UNITS = frozenset(UNITS) - {"percent", "USD"}
MAX_FIGURES = 200            # per text: a page full of numbers is not a news story

# -- lexicon ----------------------------------------------------------------------------------

_UNIT_NOUNS: dict[str, str] = {}
for _unit_name, _nouns in {
    "agencies": "agency agencies department departments partners jurisdictions",
    "agreements": "agreement agreements moa moas mou mous memorandum memoranda memorandums program programs "
                  "partnership partnerships",
    "officers": "officer officers deputy deputies trooper troopers",
    "arrests": "arrest arrests apprehension apprehensions",
    "beds": "bed beds",
    "facilities": "facility facilities center centers centre centres camp camps jail jails warehouse warehouses",
    "states": "state states",
}.items():
    for _noun in _nouns.split():
        _UNIT_NOUNS[_noun] = _unit_name
# "N sheriff's offices": "offices" counts agencies only after "sheriff's"/"sheriffs'".
_OFFICES = re.compile(r"^(?:sheriff'?s'?|sheriffs')$")

# People counted by an arrest ("arrested 90 people", "the arrests of 650 illegal aliens").
_PEOPLE = frozenset("people persons individuals aliens immigrants migrants noncitizens non-citizens suspects "
                    "fugitives foreigners nationals offenders criminals men women".split())
_ARREST_CONTEXT = re.compile(r"\b(?:arrest(?:s|ed|ing)?|apprehen(?:d|ded|sions?)|taken into custody)\b", re.I)

_WORD_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12, "hundred": 100,
}
_MULTIPLIERS = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 1_000_000_000_000}

# Words that end a noun phrase: a unit noun must come before any of them.
_STOP_WORDS = frozenset("""
    of in at for to from by with and or but nor have has had are is was were be been being will would can could
    that which who whom whose than as per since during across under over about the a an their its his her our
    your this these those there here it they we he she them some each every all any both on into onto upon
    including involving regarding following concerning among between within without after before until while
    when where because if so not no also only just up down out off through
""".split())
_ADJECTIVE_S = frozenset("various numerous previous serious dangerous famous sheriff's sheriffs' us".split())

_QUALIFIERS = re.compile(
    r"\b(?:more than|over|nearly|almost|about|approximately|roughly|around|at least|up to|as many as|"
    r"fewer than|less than|under|just|only|some|an estimated|a total of|a record|close to)\s*$", re.I)
_CHANGE_BEFORE = re.compile(
    r"\b(?:rose|risen|rise|increased|increase|grown|grew|jumped|climbed|surged|soared|fell|fallen|dropped|"
    r"declined|decreased|up|down)\s+(?:by\s+)?(?:(?:more than|nearly|almost|about|roughly|some)\s+)?$", re.I)
_CHANGE_AFTER = re.compile(r"^\s*(?:an?\s+)?(?:increase|rise|jump|surge|drop|decline|decrease|growth|spike)\b", re.I)
_LIST_LINK = re.compile(r"(?:\bwith|\bat|\band|\bor|\bto|\bhas|\bhave|\bhad|\bholds?|\breported|,|;)\s*"
                        r"(?:(?:just|only|another|about|nearly|over|more than|some)\s+)?$", re.I)
_LIST_NAME = re.compile(r"(?:\band|\bor|,|;)\s+(?:[A-Z][a-z]+\s){1,3}$")    # "..., and Iowa 9"
_UP_FROM = re.compile(r"\b(?:from|compared (?:with|to)|versus|vs\.?)\s+(?:(?:just|only|about|nearly|roughly|"
                      r"some|fewer than|less than|more than)\s+)?$", re.I)
_ARREST_BEFORE = re.compile(r"\b(?:arrests?|apprehensions?)\s+of\s+(?:(?:more than|over|nearly|almost|about|"
                            r"some|at least|roughly)\s+)?$|\b(?:arrested|apprehended)\s+(?:(?:more than|"
                            r"over|nearly|almost|about|some|at least|roughly)\s+)?$", re.I)

_PROMOTION = re.compile(r"\bpromo(?:tion(?:al)?)?\b|\bcoupon|\bdiscount|\bsubscri(?:be|ption)|\bmembership|"
                        r"\bpercent off\b|%\s*off\b|\bsign up\b|\bfree trial\b", re.I)

# -- masks: spans whose digits are never figures ----------------------------------------------

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted((m.capitalize() for m in _MONTHS), key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("mdy", re.compile(_MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?!,\d)(?:,?\s+(?P<year>(?:19|20)\d{2})\b)?")),
    ("dmy", re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH
                       + r"(?:,?\s+(?P<year>(?:19|20)\d{2})\b)?")),
    ("my", re.compile(_MONTH + r"(?:\s+of)?,?\s+(?P<year>(?:19|20)\d{2})\b")),
    # a month alone only after a preposition of time ("by Nov." is a deadline, not a date described)
    ("m", re.compile(r"\b(?:in|since|during|through|last|this|early|late|mid)\s+(?:of\s+)?" + _MONTH
                     + r"(?![\w.]*\s+\d)")),
    ("iso", re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<month>\d{2})-(?P<day>\d{2})\b")),
    ("numeric", re.compile(r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})\b")),
    ("fy", re.compile(r"\b(?:FY|fiscal year)\s?(?P<year>(?:19|20)\d{2})\b", re.I)),
    ("y", re.compile(r"\b(?P<year>(?:19|20)\d{2})\b(?!,\d)")),
)
_MASKS: tuple[re.Pattern[str], ...] = (
    re.compile(r"https?://\S+|\bwww\.\S+|\b[\w.-]+\.(?:com|gov|org|net|us|co|ly|news)(?:/\S*)?", re.I),
    re.compile(r"[@#]\w+"),
    re.compile(r"\b287\s*\(\s*[a-z]\s*\)(?:\s*\(\s*\d+\s*\))?|\b287g\b|\bsection\s+287\b", re.I),
    re.compile(r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"),
    re.compile(r"\b1-8\d\d-[A-Z0-9-]{7,}\b"),
    re.compile(r"\b\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?", re.I),
    re.compile(r"\b\d+(?:-|\s)(?:year|month|week|day)s?-old\b|\b(?:age|aged)\s+\d+\b", re.I),
    re.compile(r"\b\d+\s*U\.?\s?S\.?\s?C\.?\s*(?:§+\s*)?\d+[\w()]*|§+\s*\d+[\w().]*|\b\d+\s*C\.?F\.?R\.?\s*\d+[\w().]*"),
    re.compile(r"\b(?:No|Nos|Number|Title|Chapter|Article|Rule|Form|Case|Docket|Route|Highway|Interstate|"
               r"Executive Order|EO|H\.R|HB|SB|Bill|Act|Section|Sec|Channel|Fox|ABC|NBC|CBS|Station|"
               r"Unit|Suite|Room|District|Precinct|Ward|Level|Phase|Model|Version)\.?\s?#?\d[\d.-]*\b|\bI-\d+\b"),
    re.compile(r"\b\d+(?:st|nd|rd|th)\b", re.I),
    re.compile(r"\b(?:COVID|Covid|covid)-?\d+\b"),
)

_NUMBER = re.compile(
    r"(?P<dollar>\$\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
    r"|\b(?:" + "|".join(_WORD_NUMBERS) + r")\b)"
    r"(?:\s?(?P<mult>thousand|million|billion|trillion)\b|(?<=\d)(?P<short>[MBK]|bn)\b)?"
    r"(?P<pct>\s?(?:%|percent(?:age points?)?\b|per\s?cent\b))?"
    r"(?P<dollars>\s(?:US\s)?dollars\b)?",
    re.I,
)
_COMPOUND = re.compile(r"^-(?P<noun>[A-Za-z]+)")          # "10,000-bed"

# -- places -----------------------------------------------------------------------------------

_STATE_BY_NAME = {name.title().replace("Of", "of"): code for code, name in STATE_NAMES.items()
                  if code not in ("AS", "GU", "MP", "PR", "VI", "DC")}
_STATE_BY_NAME.update({"Puerto Rico": "PR", "Guam": "GU", "District of Columbia": "DC", "Washington, D.C.": "DC",
                       "Washington D.C.": "DC", "U.S. Virgin Islands": "VI", "Northern Mariana Islands": "MP",
                       "American Samoa": "AS"})
_STATE = re.compile(
    r"\b(?P<name>" + "|".join(re.escape(n) for n in sorted(_STATE_BY_NAME, key=len, reverse=True)) + r")\b"
    r"(?! (?:Post|Times|Examiner|Free Beacon|Tribune|Journal|Monthly|Wizards|Commanders|Nationals|Capitals))"
)
_COUNTY = re.compile(r"\b(?P<name>(?:[A-Z][a-z]+\.? ){0,2}[A-Z][a-z]+) (?P<kind>County|Parish)\b"
                     r"(?:,? (?P<state>" + "|".join(re.escape(n) for n in sorted(_STATE_BY_NAME, key=len,
                                                                                    reverse=True)) + r"))?")
_CITY = re.compile(r"\b(?P<name>(?:[A-Z][a-z]+ )?[A-Z][a-z]+) (?:[Pp]olice|City Council|[Mm]ayor)\b")
_NOT_A_PLACE = frozenset({"State", "Local", "The", "Capitol", "Transit", "University", "Campus", "Tribal",
                          "Federal", "Border", "Military", "Airport", "Port", "City", "County", "Park", "School"})
_NATIONWIDE = re.compile(r"\b(?:nationwide|nationally|national|across the (?:country|nation|U\.S\.)|"
                         r"in the (?:country|nation|U\.S\.|United States)|countrywide)\b", re.I)
_MODEL_WORDS = (("task force", "TFM"), ("jail enforcement", "JEM"), ("warrant service", "WSO"))

# -- sentences --------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset("""
    mr mrs ms dr gov sen rep lt sgt capt col gen maj det dep st sr jr inc co corp ltd no vs etc u.s e.g i.e
    a.m p.m jan feb mar apr jun jul aug sep sept oct nov dec ft mt ave blvd rd dept est approx fig
""".split())
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"“'‘(\[]?[A-Z0-9$])")
_DATELINE = re.compile(r"^\s*[—–-]{1,2}\s*.*?(?P<date>" + _MONTH + r"\s+\d{1,2},?\s+(?:19|20)\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class TextLocation:
    """Where a figure stands: 1-based paragraph and sentence (within the paragraph), and the
    character offsets of the number as written in the whole text."""

    paragraph: int
    sentence: int
    start: int
    end: int

    def describe(self) -> str:
        return f"paragraph {self.paragraph}, sentence {self.sentence}, characters {self.start}-{self.end}"


@dataclass(frozen=True, slots=True)
class AsOf:
    """The date a figure describes, as the text gives it.  ``precision``: day, month or period
    (a year, a fiscal year)."""

    start: dt.date
    end: dt.date
    precision: str
    text: str
    basis: str = "sentence"        # sentence | dated line (the line closing an embedded post)


@dataclass(frozen=True, slots=True)
class Figure:
    value: int | float
    unit: str                       # one of UNITS
    counts: str                     # what is counted, in the text's words ("local agencies")
    scope: str                      # US | state:XX | county:Name County[, XX] | city:Name
    state: str | None               # USPS code when the scope names one
    as_of: AsOf | None
    raw: str                        # the number as written: "1,168", "$25 million", "950 percent"
    qualifier: str | None           # "up to", "more than", ...
    per: str | None                 # "officer" in "$7,500 per officer"
    change: bool                    # a percentage change ("risen by 950 percent")
    inherited: bool                 # unit taken from the figure before ("Texas with 296")
    context: str                    # the clause holding the figure
    sentence: str
    location: TextLocation

    @property
    def model(self) -> str | None:
        """Support model the figure is about, when its clause names one."""
        lowered = f"{self.counts} {self.context}".lower()
        return next((code for words, code in _MODEL_WORDS if words in lowered), None)


# ---------------------------------------------------------------------------------------------
# extraction

def extract_figures(text: str, *, reference_date: dt.date | None = None) -> list[Figure]:
    """Every figure in ``text``, in order.  ``reference_date`` (usually the publication date)
    completes dates given without a year; without it, the latest full date in the text is used."""
    paragraphs = _paragraphs(text)
    reference = reference_date or _latest_full_date(text)
    figures: list[Figure] = []
    for index, (offset, paragraph) in enumerate(paragraphs):
        dateline = _dateline(paragraphs[index + 1][1] if index + 1 < len(paragraphs) else "", reference)
        previous_sentence: list[Figure] = []
        for number, (start, sentence) in enumerate(_sentences(paragraph), start=1):
            found = _sentence_figures(sentence, offset + start, index + 1, number, reference, dateline,
                                      previous_sentence)
            figures += found
            previous_sentence = found or []
            if len(figures) >= MAX_FIGURES:
                return figures[:MAX_FIGURES]
    return figures


def _paragraphs(text: str) -> list[tuple[int, str]]:
    out = []
    for match in re.finditer(r"[^\n]+", text):
        if match.group().strip():
            out.append((match.start(), match.group()))
    return out


def _sentences(paragraph: str) -> list[tuple[int, str]]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start:match.start()].rsplit(None, 1)
        word = before[-1].lower().rstrip(".") if before else ""
        if word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", word) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
            continue
        out.append((start, paragraph[start:match.end()].rstrip()))
        start = match.end()
    if paragraph[start:].strip():
        out.append((start, paragraph[start:].rstrip()))
    return out


def _masked(sentence: str) -> list[tuple[int, int]]:
    spans = [m.span() for pattern in _MASKS for m in pattern.finditer(sentence)]
    spans += [(d.start, d.end) for d in _dates(sentence, None)]
    return spans


def _inside(position: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    start, end = position
    return any(s < end and start < e for s, e in spans)


@dataclass(frozen=True, slots=True)
class _Date:
    start: int
    end: int
    as_of: AsOf | None


def _dates(sentence: str, reference: dt.date | None) -> list[_Date]:
    found: list[_Date] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(sentence):
            if _inside(match.span(), taken):
                continue
            if kind == "y" and _is_count_year(sentence, match):
                continue
            taken.append(match.span())
            found.append(_Date(match.start(), match.end(), _as_of(kind, match, reference)))
    return sorted(found, key=lambda d: d.start)


def _is_count_year(sentence: str, match: re.Match[str]) -> bool:
    """A bare four-digit number read as a year unless money, a percentage or "1,9xx" shape."""
    after = sentence[match.end():match.end() + 10]
    before = sentence[max(0, match.start() - 2):match.start()]
    return bool(re.match(r"\s?(?:%|percent|per cent)", after, re.I)) or "$" in before


def _as_of(kind: str, match: re.Match[str], reference: dt.date | None) -> AsOf | None:
    groups = match.groupdict()
    text = match.group().strip()
    try:
        year = int(groups["year"]) if groups.get("year") else None
        if year is not None and year < 100:
            year += 2000
        day: int | None
        if kind in ("iso", "numeric"):
            month, day = int(groups["month"]), int(groups["day"])
        elif kind in ("fy", "y"):
            if year is None:
                return None
            if kind == "fy":
                return AsOf(dt.date(year - 1, 10, 1), dt.date(year, 9, 30), "period", text)
            return AsOf(dt.date(year, 1, 1), dt.date(year, 12, 31), "period", text)
        else:
            month = _MONTHS[groups["month"].lower()]
            day = int(groups["day"]) if groups.get("day") else None
        if year is None:
            if reference is None:
                return None
            year = reference.year
            if (month, day or 1) > (reference.month, reference.day):
                year -= 1            # "January 26" in a text of February 2026 is 2026-01-26
        if day is None:
            return AsOf(dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]),
                        "month", text)
        day_date = dt.date(year, month, day)
        return AsOf(day_date, day_date, "day", text)
    except (ValueError, KeyError, TypeError):
        return None


def _latest_full_date(text: str) -> dt.date | None:
    dates = [d.as_of.end for d in _dates(text, None) if d.as_of and d.as_of.precision == "day"]
    return max(dates, default=None)


def _dateline(line: str, reference: dt.date | None) -> AsOf | None:
    """The date of an embedded post, from the line that closes it ("— Name (@handle) Feb 1, 2026")."""
    match = _DATELINE.match(line)
    if not match:
        return None
    dates = [d.as_of for d in _dates(match.group("date"), reference) if d.as_of and d.as_of.precision == "day"]
    return AsOf(dates[0].start, dates[0].end, "day", dates[0].text, "dated line") if dates else None


@dataclass
class _Number:
    start: int
    end: int
    value: int | float
    raw: str
    money: bool
    percent: bool
    word: bool


def _numbers(sentence: str) -> list[_Number]:
    masked = _masked(sentence)
    numbers = []
    for match in _NUMBER.finditer(sentence):
        num_span = match.span("num")
        if _inside(num_span, masked):
            continue
        before = sentence[max(0, num_span[0] - 1):num_span[0]]
        after = sentence[match.end():match.end() + 1]
        if before and (before.isalnum() or before in "._/-") and not match.group("dollar"):
            continue
        if after.isalnum() or (after == "." and sentence[match.end() + 1:match.end() + 2].isdigit()):
            continue
        word = match.group("num").lower() in _WORD_NUMBERS
        if word and match.group("num").lower() == "hundred":
            continue
        value = _WORD_NUMBERS[match.group("num").lower()] if word else _to_number(match.group("num"))
        multiplier = match.group("mult") or match.group("short")
        if multiplier:
            value = value * _MULTIPLIERS.get(multiplier.lower(), {"m": 1_000_000, "b": 1_000_000_000,
                                                                   "bn": 1_000_000_000, "k": 1_000}.get(
                multiplier.lower(), 1))
            value = int(value) if float(value).is_integer() else value
        money = bool(match.group("dollar") or match.group("dollars"))
        numbers.append(_Number(match.start(), match.end(), value, match.group().strip(), money,
                               bool(match.group("pct")), word))
    return numbers


def _to_number(text: str) -> int | float:
    clean = text.replace(",", "")
    return float(clean) if "." in clean else int(clean)


def _sentence_figures(sentence: str, offset: int, paragraph: int, sentence_number: int,
                      reference: dt.date | None, dateline: AsOf | None,
                      previous_sentence: Sequence[Figure]) -> list[Figure]:
    if _PROMOTION.search(sentence):
        return []
    numbers = _numbers(sentence)
    dates = [d for d in _dates(sentence, reference) if d.as_of is not None]
    figures: list[Figure] = []
    for i, number in enumerate(numbers):
        segment_start = numbers[i - 1].end if i else 0
        segment_end = numbers[i + 1].start if i + 1 < len(numbers) else len(sentence)
        before = sentence[segment_start:number.start]
        after = sentence[number.end:segment_end]
        previous = figures[-1] if figures else None
        unit = _unit(number, sentence, before, sentence[number.end:], previous, previous_sentence)
        if unit is None:
            continue
        kind, counts, per, inherited_from = unit
        place = _place(before) or _place_after(after)
        if place is None and inherited_from is not None:
            place = (inherited_from.scope, inherited_from.state)
        if place is None and not _NATIONWIDE.search(before):
            place = _place(sentence[:segment_start])      # "Tennessee agencies hold 75 ..., and 140 deputies"
        scope, state = place or ("US", None)
        as_of = _nearest_date(dates, segment_start, number, segment_end)
        if as_of is None and inherited_from is not None and inherited_from in figures:
            as_of = inherited_from.as_of
        if as_of is None:
            as_of = dateline
        qualifier = _QUALIFIERS.search(sentence[:number.start])
        figures.append(Figure(
            value=number.value,
            unit=kind,
            counts=counts,
            scope=scope,
            state=state,
            as_of=as_of,
            raw=number.raw,
            qualifier=qualifier.group().strip().lower() if qualifier and qualifier.group().strip() else None,
            per=per,
            change=kind == "percent" and bool(_CHANGE_BEFORE.search(before) or _CHANGE_AFTER.match(after)),
            inherited=inherited_from is not None,
            context=_clause(sentence, number),
            sentence=sentence.strip(),
            location=TextLocation(paragraph, sentence_number, offset + number.start, offset + number.end),
        ))
    return figures


_Unit = tuple[str, str, str | None, Figure | None]   # unit, counts, per, figure it was inherited from


def _unit(number: _Number, sentence: str, before: str, rest: str, previous: Figure | None,
          previous_sentence: Sequence[Figure]) -> _Unit | None:
    """What a number counts: from the words after it (``rest`` of the sentence), from the words
    before it ("arrests of 650"), or from the figure before it in a list."""
    after = rest
    if number.percent:
        if re.match(r"\s*off\b", after, re.I):
            return None
        return "percent", _percent_counts(before, after), None, None
    if number.money:
        return "USD", _money_counts(after), _per(after), None
    compound = _COMPOUND.match(after)
    if compound and compound.group("noun").lower() in _UNIT_NOUNS:
        unit = _UNIT_NOUNS[compound.group("noun").lower()]
        noun = compound.group("noun").lower()
        head = _head_noun(after[compound.end():])
        if head is None:
            return unit, _plural(noun), None, None
        return unit, f"{_plural(noun)} ({number.raw.lower()}-{noun} {head[0]})", _singular(head[1]), None
    found = _unit_after(after)
    if found is not None:
        unit, phrase = found
        if unit == "people":
            if _ARREST_BEFORE.search(before) or _ARREST_CONTEXT.search(sentence):
                return "arrests", f"arrests ({phrase})", None, None
            return None
        return unit, phrase, None, None
    if _ARREST_BEFORE.search(before):
        return "arrests", "arrests", None, None
    if number.word:
        return None           # "Eight" alone: only a word number with its own noun is a figure
    if previous is not None and previous.unit in COUNT_UNITS and (_LIST_LINK.search(before)
                                                                  or _LIST_NAME.search(before)):
        return previous.unit, previous.counts, previous.per, previous
    if previous is None and previous_sentence and _UP_FROM.search(before):
        last = previous_sentence[-1]
        if last.unit in COUNT_UNITS:
            return last.unit, last.counts, last.per, last
    return None


def _words(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"[A-Za-z](?:[A-Za-z'’-]|\.(?=[A-Za-z]))*|[,;:()—–.!?]|\d[\d,.]*(?:-[A-Za-z]+)?", text))


def _unit_after(after: str) -> tuple[str, str] | None:
    """The unit noun following a number, past up to three modifiers ("1,168 local agencies")."""
    words = _words(after)
    skipped: list[str] = []
    i = 0
    while i < len(words) and len(skipped) <= 3:
        token = words[i].group().replace("’", "'")
        lowered = token.lower().rstrip(".")
        if i == 0 and token == "," and i + 1 < len(words) and re.match(r"\d", words[i + 1].group()):
            i += 1        # "Eight, 10,000-bed facilities": the number-adjective is skipped below
            continue
        if re.match(r"\d[\d,.]*-[A-Za-z]+$", token):
            skipped.append(token)
            i += 1
            continue
        if not token[0].isalpha():
            return None
        if lowered in _UNIT_NOUNS:
            phrase = " ".join(skipped + [token])
            return _UNIT_NOUNS[lowered], _tidy(phrase).lower() if not _has_proper(skipped) else _tidy(phrase)
        if lowered == "offices" and skipped and _OFFICES.match(skipped[-1].lower()):
            return "agencies", _tidy(" ".join(skipped + [token])).lower()
        if lowered in _PEOPLE:
            return "people", _tidy(" ".join(skipped + [token])).lower()
        if lowered in _STOP_WORDS or _is_plural_noun(lowered):
            return None
        skipped.append(token)
        i += 1
    return None


def _has_proper(words: Sequence[str]) -> bool:
    return any(w[:1].isupper() and w.upper() == w and len(w) > 1 for w in words)   # ICE, MOA


def _is_plural_noun(word: str) -> bool:
    if word in _ADJECTIVE_S or word.endswith(("'s", "ss", "us", "is")):
        return False
    return word.endswith("s") and len(word) > 3


def _head_noun(text: str) -> tuple[str, str] | None:
    """After "10,000-bed": the noun the compound describes, and the phrase up to it."""
    words = _words(text)
    taken = []
    for match in words[:4]:
        token = match.group()
        if not token[0].isalpha() or token.lower() in _STOP_WORDS:
            return None
        taken.append(token)
        if _UNIT_NOUNS.get(token.lower()) or _is_plural_noun(token.lower()):
            return _tidy(" ".join(taken)).lower(), token.lower()
    return None


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun if noun.endswith("s") else noun + "s"


def _money_counts(after: str) -> str:
    """What an amount is for: the words after it up to the end of its clause."""
    phrase = re.split(r"[,;:.!?]|\s[—–]\s|\band\b", after, maxsplit=1)[0]
    words = phrase.split()[:10]
    return _tidy("USD " + " ".join(words)) if words else "USD"


def _per(after: str) -> str | None:
    match = re.match(r"\s*(?:per|for each|a|an|each)\s+(officer|deputy|agency|agreement|bed|facility|year|month|"
                     r"day|vehicle|arrest|person|detainee|county|participant)\b", after, re.I)
    if match:
        return match.group(1).lower()
    if re.match(r"\s*(?:annually|a year|per year|yearly)\b", after, re.I):
        return "year"
    return None


def _percent_counts(before: str, after: str) -> str:
    tail = re.split(r"[,;:.!?]|\s[—–]\s", before)[-1]
    head = re.split(r"[,;:.!?]|\s[—–]\s", after, maxsplit=1)[0]
    text = _tidy(f"{tail} … {head}" if head.strip() else tail)
    return text.strip(" …") or "percent"


def _clause(sentence: str, number: _Number) -> str:
    left = max(sentence.rfind(mark, 0, number.start) for mark in (",", ";", ":", "—", "(")) + 1
    right_candidates = [i for i in (sentence.find(mark, number.end) for mark in (",", ";", ":", "—", ")"))
                        if i != -1 and not (sentence[i] == "," and re.match(r",\s?\d", sentence[i:i + 3]))]
    right = min(right_candidates, default=len(sentence))
    words = sentence[left:right].split()
    return _tidy(" ".join(words[:24])).rstrip(".")


def _place(before: str) -> tuple[str, str | None] | None:
    """The place named last before the number, within its stretch of the sentence."""
    candidates: list[tuple[int, int, str, str | None]] = []
    for match in _STATE.finditer(before):
        candidates.append((match.end(), 0, f"state:{_STATE_BY_NAME[match.group('name')]}",
                           _STATE_BY_NAME[match.group("name")]))
    for match in _COUNTY.finditer(before):
        name = " ".join(w for w in match.group("name").split()
                        if w not in _NOT_A_PLACE and w.lower() not in _STOP_WORDS)
        if not name or name in _STATE_BY_NAME:
            continue
        state = _STATE_BY_NAME.get(match.group("state") or "")
        label = f"county:{name} {match.group('kind')}"
        candidates.append((match.end(), 1, label + (f", {state}" if state else ""), state))
    for match in _CITY.finditer(before):
        name = " ".join(w for w in match.group("name").split()
                        if w not in _NOT_A_PLACE and w.lower() not in _STOP_WORDS)
        if name and name not in _STATE_BY_NAME:
            candidates.append((match.end(), 1, f"city:{name}", None))
    if not candidates:
        return None
    # the place named last wins; "Knox County, Tennessee" is the county, not the state
    _, _, scope, state = max(candidates, key=lambda c: (c[0], c[1]))
    return scope, state


def _place_after(after: str) -> tuple[str, str | None] | None:
    match = re.search(r"\b(?:in|across|throughout|statewide in)\s+(?:the state of\s+)?(" + _STATE.pattern + ")",
                      after)
    if not match:
        return None
    code = _STATE_BY_NAME[match.group("name")]
    return f"state:{code}", code


def _nearest_date(dates: Sequence[_Date], segment_start: int, number: _Number, segment_end: int) -> AsOf | None:
    before = [d for d in dates if segment_start <= d.start and d.end <= number.start]
    if before:
        return before[-1].as_of
    after = [d for d in dates if number.end <= d.start and d.end <= segment_end]
    return after[0].as_of if after else None


def _tidy(text: str) -> str:
    return " ".join(text.replace("’", "'").split())


# ---------------------------------------------------------------------------------------------
# linking to the baseline and to the list metrics

@dataclass(frozen=True, slots=True)
class FigureLink:
    """A figure's counterparts: the baseline figure it matches, and the metric that measures it."""

    baseline_id: str | None
    baseline_value: int | float | None
    baseline_as_of: dt.date | None
    measure: Measure | None
    basis: str | None               # why the baseline figure was chosen


def measure_for(figure: Figure) -> Measure | None:
    """The participating-list count that measures ``figure``, when there is one.

    Agreements can be counted nationwide, per state and per support model; agencies (local ones
    when the text says "local") and states only nationwide.  Percentages, money, arrests,
    officers, beds and facilities are not counts of list rows.
    """
    if figure.change or figure.per:
        return None
    if figure.unit == "agreements" and (figure.scope == "US" or figure.scope.startswith("state:")):
        return Measure("participating", "agreements", state=figure.state, model=figure.model)
    if figure.scope != "US":
        return None
    if figure.unit == "agencies":
        return Measure("participating", "local_agencies" if "local" in figure.counts.lower() else "agencies")
    if figure.unit == "states":
        return Measure("participating", "states")
    return None


def link_figure(figure: Figure, baseline: Sequence[BaselineFigure]) -> FigureLink:
    """The baseline figure that ``figure`` reports on, and the metric that measures it.

    A baseline figure qualifies when unit and scope are equal and, for a figure no list can
    measure (money, percentages, arrests ...), the value is equal or what it counts is alike.
    Among those: the same value first, then the most alike description, then the nearest date.
    """
    measure = measure_for(figure)
    unit = "agencies" if figure.unit == "agencies" else figure.unit
    candidates = []
    for candidate in baseline:
        if candidate.unit != unit or candidate.scope != figure.scope:
            continue
        same_value = float(candidate.value) == float(figure.value)
        alike = fuzz.token_set_ratio(f"{figure.counts} {figure.context}".lower(),
                                     f"{candidate.counts} {candidate.label}".lower())
        measured_alike = measure is not None and candidate.measure is not None and (
            candidate.measure.metric, candidate.measure.state, candidate.measure.model
        ) == (measure.metric, measure.state, measure.model)
        if not (same_value or measured_alike or alike >= 60):
            continue
        days = abs((candidate.as_of - figure.as_of.end).days) if figure.as_of else 0
        candidates.append((not same_value, -alike, days, candidate))
    if not candidates:
        return FigureLink(None, None, None, measure, None)
    not_same, minus_alike, _, chosen = min(candidates, key=lambda c: c[:3])
    basis = ("same value, unit and scope" if not not_same
             else f"same unit and scope, description {-minus_alike:.0f}% alike")
    return FigureLink(chosen.id, chosen.value, chosen.as_of, measure, basis)
