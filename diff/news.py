"""News items: which are the same story, and which are about 287(g).  Pure functions.

Two items are one story when

* their URLs are the same once normalised (``url_key``: scheme, ``www.``, fragment, tracking
  parameters and a trailing slash do not count), or
* their titles are near-identical (``title_key`` drops a trailing " - Publisher" or " | ICE";
  rapidfuzz ratio >= ``SAME_TITLE_SCORE``) and they were published at most
  ``SAME_STORY_DAYS`` days apart: one story syndicated by several outlets or feeds.

An item is relevant when its text mentions 287(g), one of its support models, or an agency
on the current participating list (``AgencyIndex``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rapidfuzz import fuzz

from diff.normalise import STATE_NAMES, agency_key

SAME_STORY_DAYS = 3
SAME_TITLE_SCORE = 92.0
MIN_TITLE_WORDS = 5          # shorter titles ("Press release") say too little to match on

# Query parameters that say where a click came from, not what the page is.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "ref", "ref_src",
    "source", "src", "smid", "smtyp", "taid", "ito", "guccounter", "guce_referrer", "guce_referrer_sig",
    "_ga", "_gl", "igshid", "oc", "at_medium", "at_campaign", "sh", "sr_share", "partner", "xtor",
})


def strip_tracking(url: str) -> str:
    """``url`` without fragment and tracking parameters, host lower-cased, default port dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)) else None
    netloc = host + (f":{port}" if port else "")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMETERS and not k.lower().startswith("utm_")]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def url_key(url: str) -> str:
    """What decides that two URLs are one page: host without ``www.``, path, remaining query."""
    parts = urlsplit(strip_tracking(url))
    host = (parts.hostname or "").removeprefix("www.")
    port = f":{parts.port}" if parts.port else ""
    path = re.sub(r"/+$", "", parts.path) or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{port}{path}" + (f"?{query}" if query else "")


_PUBLISHER_SUFFIX = re.compile(r"\s+(?:[-–—|:]\s+)[^-–—|:]{2,60}$")
_NON_WORD = re.compile(r"[^\w]+")


def title_key(title: str, publisher: str | None = None) -> str:
    """A title reduced to its words: lower case, no punctuation, no trailing " - Publisher"."""
    text = " ".join((title or "").split())
    if publisher and text.lower().endswith(publisher.lower()) and len(text) > len(publisher) + 3:
        text = re.sub(r"[\s\-–—|:]+$", "", text[: -len(publisher)])
    elif (suffix := _PUBLISHER_SUFFIX.search(text)) and len(suffix.group().split()) <= 6:
        head = _PUBLISHER_SUFFIX.sub("", text)
        if len(head.split()) >= MIN_TITLE_WORDS:
            text = head
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What dedup needs of an article: its id (None for a candidate), URL key, title key, date."""

    id: int | None
    url_key: str
    title_key: str
    dated: dt.date


@dataclass(frozen=True, slots=True)
class Duplicate:
    of: int
    basis: str                 # same_url | same_story
    score: float               # title similarity (100 for the same URL)
    days_apart: int


def find_duplicate(candidate: StoryKey, existing: Iterable[StoryKey]) -> Duplicate | None:
    """The stored article ``candidate`` repeats, preferring the same URL, then the closest title."""
    best: Duplicate | None = None
    for other in existing:
        if other.id is None:
            continue
        days = abs((candidate.dated - other.dated).days)
        if other.url_key == candidate.url_key:
            return Duplicate(other.id, "same_url", 100.0, days)
        if days > SAME_STORY_DAYS or len(candidate.title_key.split()) < MIN_TITLE_WORDS:
            continue
        if len(other.title_key.split()) < MIN_TITLE_WORDS:
            continue
        score = fuzz.ratio(candidate.title_key, other.title_key)
        if score >= SAME_TITLE_SCORE and (best is None or score > best.score):
            best = Duplicate(other.id, "same_story", round(score, 1), days)
    return best


# ---------------------------------------------------------------------------------------------
# relevance

_PROGRAM = re.compile(r"\b287\s*\(\s*g\s*\)|\b287g\b|\bsection\s+287\b", re.I)
_MODELS = (
    (re.compile(r"\btask[\s-]+force\s+model\b", re.I), "Task Force Model"),
    (re.compile(r"\bjail[\s-]+enforcement\s+model\b", re.I), "Jail Enforcement Model"),
    (re.compile(r"\bwarrant\s+service\s+officers?\b", re.I), "Warrant Service Officer"),
)
_STATE_WORDS = {name: code for code, name in STATE_NAMES.items()}


@dataclass(frozen=True, slots=True)
class ListedAgency:
    state: str
    agency_key: str            # diff.normalise.agency_key of the name
    agency: str                # the name as the list gives it


@dataclass(frozen=True, slots=True)
class AgencyMention:
    agency: ListedAgency
    matched: str               # the words of the text that matched (normalised)
    ambiguous: bool            # the same name is listed in several states the text does not tell apart


class AgencyIndex:
    """Agencies on a list, found by their full name in a text (case, punctuation and the list's
    abbreviations do not matter: "St. Johns County Sheriff's Office" = "SAINT JOHNS COUNTY ...")."""

    MIN_WORDS = 2

    def __init__(self, agencies: Iterable[ListedAgency]):
        self._by_key: dict[str, list[ListedAgency]] = {}
        for agency in agencies:
            if len(agency.agency_key.split()) >= self.MIN_WORDS:
                self._by_key.setdefault(agency.agency_key, []).append(agency)
        self._longest = max((len(k.split()) for k in self._by_key), default=0)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def find(self, text: str) -> list[AgencyMention]:
        words = _text_words(text)
        named_states = {code for name, code in _STATE_WORDS.items() if f" {name} " in f" {' '.join(words)} "}
        found: dict[tuple[str, str], AgencyMention] = {}
        i = 0
        while i < len(words):
            match_length = 0
            for length in range(min(self._longest, len(words) - i), self.MIN_WORDS - 1, -1):
                key = " ".join(words[i:i + length])
                listed = self._by_key.get(key)
                if not listed:
                    continue
                chosen = [a for a in listed if a.state in named_states] or listed
                for agency in chosen:
                    found.setdefault((agency.state, agency.agency_key),
                                     AgencyMention(agency, key, ambiguous=len(chosen) > 1))
                match_length = length
                break
            i += max(match_length, 1)
        return sorted(found.values(), key=lambda m: (m.agency.state, m.agency.agency_key))


def _text_words(text: str) -> list[str]:
    words: list[str] = []
    for line in re.split(r"(?<=[.!?;])\s+|\n+", text):
        if line.strip():
            words += agency_key(line[:2000]).split()
    return words


@dataclass(frozen=True, slots=True)
class Relevance:
    relevant: bool
    reasons: tuple[str, ...]
    agencies: tuple[AgencyMention, ...]


def relevance(text: str, agencies: AgencyIndex | None = None) -> Relevance:
    """Why ``text`` concerns 287(g): the program, a support model, or listed agencies it names."""
    reasons = []
    if _PROGRAM.search(text):
        reasons.append("mentions 287(g)")
    reasons += [f"mentions the {name}" for pattern, name in _MODELS if pattern.search(text)]
    mentions = tuple(agencies.find(text)) if agencies is not None else ()
    if mentions:
        names = sorted({f"{m.agency.agency} ({m.agency.state})" for m in mentions})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        reasons.append(f"names {len(names)} participating agenc{'y' if len(names) == 1 else 'ies'}: {shown}")
    return Relevance(bool(reasons), tuple(reasons), mentions)


def story_day(published: dt.datetime | None, fetched: dt.datetime) -> dt.date:
    """The day an item is dated by for dedup: its publication (UTC), else when it was fetched."""
    moment = published or fetched
    return moment.astimezone(dt.UTC).date() if moment.tzinfo else moment.date()
