"""Read an ICE agency name: the place it names, the kind of office, and a canonical spelling.

ICE spells one agency many ways from one list to the next ("Gulf County BOCC", "Gulf County
Board of County Commissioners"; "Indian River Shores DPS"; "Alachua Police Departent"; "MT Dept
of Justice" then "Montana Department of Justice").  This module turns a name into parts that
matching can reason with.  Pure: text in, values out.

API (the contract other modules rely on):

``parse(name, state=None) -> AgencyName``
    ``place``: the place the name is about, upper-case words (``"JEFFERSON"``, ``"SAINT JOHNS"``,
    ``"WEST MELBOURNE"``, ``"VIRGINIA"``), or None when the name names none
    ("Department of Corrections", "University of Central Florida Police Department").
    ``place_kind``: ``"county"``, ``"parish"``, ``"borough"``, ``"township"``, ``"village"``,
    ``"town"``, ``"city"`` when the name says so ("Jefferson County", "City of Melbourne"),
    ``"state"`` when the place is the row's state (or any state's name, without ``state``),
    None when it does not say ("Melbourne Police Department").
    ``role``: one of ``ROLES`` (sheriff, police, state police, jail, corrections,
    commissioners, attorney, marshal, constable, university police, state agency, other).
    ``canonical``: ``canonical(name, state)``.

``canonical(name, state=None) -> str``
    The fuller normalisation used as identity tier 2: two names of the same state with the
    same canonical form are one agency.  Built on ``diff.normalise.agency_key`` (case, accents,
    punctuation, curly quotes, whitespace, "&" = AND, PD, SO, Co., Dept., Twp., St./Ft./Mt.
    before a place name), and further:

    - misspelt office words within one edit (``DEPARTENT``, ``CONSTBALES``, ``OFFIC``,
      ``COUNTYS``, see ``_OFFICE_WORDS``), never a place name;
    - the office: "Sheriff's Department"/"Sheriff" = SHERIFFS OFFICE; "Police" at the end
      and "Police Services Department" = POLICE DEPARTMENT; "DPS", "Public Safety" =
      DEPARTMENT OF PUBLIC SAFETY; "State Police Department" = STATE POLICE; "Highway State
      Patrol" = STATE HIGHWAY PATROL; "Constable's Office" = CONSTABLES; "Marshal" =
      MARSHALS OFFICE; "Office of the Attorney General" = ATTORNEY GENERAL;
    - boards: "BOCC", "Board of County Commissioners", "County Board of Commissioners" and
      "County Board of County Commissioners" after a county name are one form,
      ``<NAME> COUNTY BOARD OF COMMISSIONERS``, also when followed by the corrections
      department, detention facility or jail that the board runs ("… /Detention Facility");
    - "City of X", "Town of X", "Village of X" = X; "County of X" = X COUNTY; "The" dropped;
    - with ``state``: the state's name or USPS code before a state office ("Virginia
      Department of Corrections", "MT Dept of Justice") or after the name ("…, LA") is
      dropped, and in Louisiana COUNTY = PARISH.

    One agency may appear twice in one list under two spellings with one canonical form
    (participatingAgencies05122025amB lists "City of St. Cloud Police Department" and "St.
    Cloud Police Department", both Task Force Model): within one list, equal canonical forms
    are a duplicate row, not two agencies.

    Kept apart on purpose: Township, Borough and County before the office (a township's and
    a borough's police are different agencies), Jail vs Detention Center vs Sheriff's Office,
    precinct and district numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from diff.normalise import STATE_NAMES, agency_key

ROLES = ("sheriff", "police", "state police", "jail", "corrections", "commissioners", "attorney",
         "marshal", "constable", "university police", "state agency", "other")

PLACE_KINDS = ("county", "parish", "borough", "township", "village", "town", "city", "state")


@dataclass(frozen=True, slots=True)
class AgencyName:
    name: str                 # as given
    place: str | None         # upper-case words, e.g. "SAINT JOHNS"
    place_kind: str | None    # one of PLACE_KINDS, or None when the name does not say
    role: str                 # one of ROLES
    canonical: str            # canonical(name, state)


# Office words that ICE misspells.  A word is read as the one of these it is nearest to, when
# it is within one edit (two for words of 9 letters or more), that nearest is unique, and the
# word can be an office word at all: not the first word, not followed by County/Township/...
# (so a place name such as "Marshall County" or "Ponce Inlet" is never "corrected").
_OFFICE_WORDS = ("DEPARTMENT", "SHERIFFS", "CONSTABLES", "CONSTABLE", "COMMISSIONERS",
                 "CORRECTIONS", "CORRECTIONAL", "DETENTION", "PRECINCT", "POLICE", "OFFICE")
_OFFICE_WORD_SET = frozenset(_OFFICE_WORDS)
# Fixes that are not within reach of the rule above, each seen in ICE's lists.
_WORD_FIXES = {"OFFIC": "OFFICE", "OFFICES": "OFFICE", "COUNTYS": "COUNTY", "DEPT": "DEPARTMENT",
               "DPS": "DEPARTMENT OF PUBLIC SAFETY", "BOCC": "BOARD OF COUNTY COMMISSIONERS",
               "CORRECTION": "CORRECTIONS", "SHERRIFS": "SHERIFFS", "SHERIFS": "SHERIFFS",
               "AGGRICULTURAL": "AGRICULTURAL", "JUDICAL": "JUDICIAL", "DISTRIC": "DISTRICT"}
_KIND_WORD_SET = frozenset({"COUNTY", "PARISH", "BOROUGH", "TOWNSHIP", "VILLAGE", "CITY", "TOWN"})

_STATE_WORDS = {name.replace(".", ""): code for code, name in STATE_NAMES.items()}
_STATE_WORDS["CNMI"] = "MP"
# Words that, after a state's name, show the name is a state office ("Virginia Department of
# Corrections"), not a place named after the state ("Virginia Beach", "Iowa County").
_STATE_OFFICE_WORDS = frozenset({"DEPARTMENT", "OFFICE", "HIGHWAY", "BUREAU", "DIVISION",
                                 "NATIONAL", "ATTORNEY", "ATTORNEYS", "MARINE", "FISH", "GAMING",
                                 "LAW", "MILITARY", "ALCOHOL", "DOC"})
# ... and "State" followed by one of these ("Idaho State Police", not "Florida State University").
_STATE_STATE_OFFICE_WORDS = frozenset({"POLICE", "PATROL", "HIGHWAY", "GUARD", "CONSTABLE", "CONSTABLES",
                                       "AUDITOR", "FIRE", "DEPARTMENT", "BUREAU", "ATTORNEY"})
_STATE_ALIASES = {"MP": ("CNMI",), "DC": ("WASHINGTON DC",)}


def _is_state_office(words: list[str]) -> bool:
    if not words:
        return False
    if words[0] == "STATE":
        return len(words) > 1 and words[1] in _STATE_STATE_OFFICE_WORDS
    return words[0] in _STATE_OFFICE_WORDS

# (pattern, replacement) applied in order to the space-joined words, each padded with spaces.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r" THE ", " "),
    (r"^ (?:CITY|TOWN|VILLAGE) OF ", " "),
    (r"^ COUNTY OF (\w+(?: \w+)??) (?=SHERIFFS|POLICE|JAIL|BOARD|CORRECTIONS|DETENTION)", r" \1 COUNTY "),
    (r" SHERIFFS DEPARTMENT ", " SHERIFFS OFFICE "),
    (r" SHERIFFS? $", " SHERIFFS OFFICE "),
    (r" SHERIFF OFFICE ", " SHERIFFS OFFICE "),
    (r" POLICE SERVICES DEPARTMENT ", " POLICE DEPARTMENT "),
    (r" STATE POLICE DEPARTMENT ", " STATE POLICE "),
    (r" HIGHWAY STATE PATROL ", " STATE HIGHWAY PATROL "),
    (r"(?<! STATE) POLICE $", " POLICE DEPARTMENT "),
    (r" PUBLIC SAFETY DEPARTMENT ", " DEPARTMENT OF PUBLIC SAFETY "),
    (r"(?<! OF) PUBLIC SAFETY ", " DEPARTMENT OF PUBLIC SAFETY "),
    (r" CONSTABLES? OFFICE ", " CONSTABLES "),
    (r" CONSTABLE ", " CONSTABLES "),
    (r" MARSHALS? OFFICE ", " MARSHAL "),
    (r" MARSHAL $", " MARSHALS OFFICE "),
    (r" OFFICE OF (?:THE )?ATTORNEY GENERAL ", " ATTORNEY GENERAL "),
    (r" ATTORNEY GENERALS OFFICE ", " ATTORNEY GENERAL "),
    (r" ATTORNEY GENERALS ", " ATTORNEY GENERAL "),
    (r" COUNTY DEPARTMENT OF CORRECTIONS ", " COUNTY CORRECTIONS "),
    # boards of county commissioners, three word orders and the BOCC initials
    (r" COUNTY BOARD OF COUNTY COMMISSIONERS ", " COUNTY BOARD OF COMMISSIONERS "),
    (r" BOARD OF COUNTY COMMISSIONERS ", " COUNTY BOARD OF COMMISSIONERS "),
    (r" COUNTY COUNTY ", " COUNTY "),
    # the board named with the corrections or jail it runs: "Gulf County Board of County
    # Commissioners /Detention Facility" is the board, as ICE's alternating spellings show
    (r" COUNTY BOARD OF COMMISSIONERS (?:(?:\w+ COUNTY )?(?:DEPARTMENT OF |DIVISION OF )?CORRECTIONS"
     r"|DETENTION FACILITY|JAIL) $", " COUNTY BOARD OF COMMISSIONERS "),
))

# Offices, most specific first: (role, pattern on the canonical words).  The place is what
# stands before the first match.
_ROLE_ALTERNATIVES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("university police", (r" (?:UNIVERSITY|COLLEGE)\b.*?(?:POLICE|BOARD OF TRUSTEES)", r" BOARD OF TRUSTEES ")),
    ("commissioners", (r" BOARD OF (?:COUNTY )?COMMISSIONERS ", r" COMMISSIONERS COURT ", r" BOARD OF SUPERVISORS ")),
    ("sheriff", (r" SHERIFFS OFFICE ",)),
    ("attorney", (r" PROSECUTORS? (?:OFFICE )?",
                  r" (?:DISTRICT |STATE |CRIMINAL DISTRICT )?ATTORNEYS? (?:GENERAL |OFFICE )?",
                  r" OFFICE OF (?:THE )?(?:STATE|DISTRICT) ATTORNEY ")),
    ("state police", (r" STATE POLICE ", r" (?:STATE )?HIGHWAY PATROL ", r" STATE PATROL ",
                      r" DEPARTMENT OF STATE POLICE ")),
    ("constable", (r" CONSTABLES ",)),
    ("marshal", (r" (?:FIRE )?MARSHALS OFFICE ",)),
    ("jail", (r" (?:REGIONAL |DISTRICT )?JAIL ", r" PRISON ", r" DETENTION (?:CENTER|FACILITY) ",
              r" CORRECTIONAL (?:FACILITY|CENTER) ", r" CORRECTIONS CENTER ", r"(?<= COUNTY) CORRECTIONS $",
              r" CORRECTIONS AND REHABILITATION ")),
    ("corrections", (r" (?:DEPARTMENT|DIVISION) OF CORRECTIONS? ", r" DEPARTMENT OF CORRECTIONAL SERVICES ",
                     r" CORRECTIONS DEPARTMENT ")),
    ("police", (r" POLICE DEPARTMENT ", r" DEPARTMENT OF PUBLIC SAFETY ",
                r" POLICE (?:AUTHORITY|DIVISION|COOPERATIVE) ")),
    ("state agency", (r" (?:DEPARTMENT|OFFICE|DIVISION|BUREAU) OF ", r" NATIONAL GUARD ", r" STATE GUARD ",
                      r" COMMISSION ", r" LAW ENFORCEMENT DIVISION ")),
)
_ROLE_PATTERNS = tuple((role, re.compile("|".join(alternatives))) for role, alternatives in _ROLE_ALTERNATIVES)
# A trailing word that says what kind of place the name is ("Jefferson County", "Mount Carmel
# Township"); "City" is left in place names ("Orange City", "Panama City").
_KIND_WORDS = {"COUNTY": "county", "PARISH": "parish", "BOROUGH": "borough", "TOWNSHIP": "township",
               "VILLAGE": "village"}
_LEADING_KIND = re.compile(r"^(CITY|TOWN|VILLAGE|TOWNSHIP|BOROUGH) OF ")


def _fix_words(words: list[str]) -> list[str]:
    out = []
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        out.append(_fix_word(word) if i > 0 and following not in _KIND_WORD_SET else _WORD_FIXES.get(word, word))
    return " ".join(out).split()


def _fix_word(word: str) -> str:
    if word in _WORD_FIXES:
        return _WORD_FIXES[word]
    if len(word) < 5 or word in _OFFICE_WORD_SET or not word.isalpha():
        return word
    limit = 2 if len(word) >= 9 else 1
    distances = sorted((OSA.distance(word, w), w) for w in _OFFICE_WORDS if abs(len(w) - len(word)) <= limit)
    if not distances or distances[0][0] > limit or (len(distances) > 1 and distances[1][0] == distances[0][0]):
        return word
    return distances[0][1]


def _drop_state(words: list[str], state: str | None) -> tuple[list[str], bool]:
    """Without the row's own state name or code before a state office or after the name; and
    whether the name began with it (then the agency is the state's own)."""
    if state is None:
        return words, False
    leading = False
    name = STATE_NAMES.get(state, "").replace(".", "").split()
    for form in (name, [state], *(alias.split() for alias in _STATE_ALIASES.get(state, ()))):
        n = len(form)
        if not n:
            continue
        if words[:n] == form and _is_state_office(words[n:]):
            words, leading = words[n:], True
        if words[-n:] == form and len(words) > n + 1:
            words = words[:-n]
    return words, leading


def _words(name: str, state: str | None) -> tuple[list[str], str | None]:
    """Words with misspellings fixed; and the kind of place that the start of the name gave
    ("City of" → city, the state's name before a state office → state)."""
    words = _fix_words(agency_key(name).split())
    if state == "LA":
        words = ["PARISH" if w == "COUNTY" else w for w in words]
    words, state_office = _drop_state(words, state)
    if words[:1] == ["THE"]:
        words = words[1:]
    leading = _LEADING_KIND.match(" ".join(words))
    return words, "state" if state_office else leading[1].lower() if leading else None


@lru_cache(maxsize=65536)   # a diff of 1M-row lists meets ~24,000 names, each tier again
def canonical(name: str, state: str | None = None) -> str:
    """The canonical form of an agency name (see the module docstring); "" for a blank name.

    >>> canonical("Gulf County BOCC") == canonical("Gulf County Board of County Commissioners")
    True
    """
    words, _ = _words(name, state)
    text = f" {' '.join(words)} "
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def parse(name: str, state: str | None = None) -> AgencyName:
    """The parts of an agency name (see the module docstring)."""
    words, leading_kind = _words(name, state)
    text = f" {canonical(name, state)} "
    role, before = "other", ""
    for candidate, pattern in _ROLE_PATTERNS:
        if match := pattern.search(text):
            role, before = candidate, text[: match.start()]
            break
    if role == "other":   # no office found: the place is what stands up to "County", "Township", ...
        kinds = [i for i, w in enumerate(words) if w in _KIND_WORDS]
        before = " ".join(words[: kinds[0] + 1]) if kinds else ""
    place, kind = _place(before.split(), leading_kind, state)
    if leading_kind == "state" and state is not None:
        place, kind = STATE_NAMES[state], "state"
    if role == "corrections" and kind not in (None, "state"):
        role = "jail"            # a county's department of corrections runs its jail
    if role == "police" and kind == "state":
        role = "state police"    # Iowa Department of Public Safety, Georgia Department of Public Safety
    if role == "state agency" and kind != "state":
        place, kind = None, None   # "Fish and Wildlife Conservation Commission" names no place
    return AgencyName(name, place, kind, role, canonical(name, state))


def _place(words: list[str], leading_kind: str | None, state: str | None) -> tuple[str | None, str | None]:
    if not words:
        return None, None
    kind = leading_kind if leading_kind in PLACE_KINDS and leading_kind != "state" else None
    if words[-1] in _KIND_WORDS:
        kind = _KIND_WORDS[words[-1]]
        words = words[:-1]
    place = " ".join(words)
    if not place:
        return None, None
    if kind is None and place in _STATE_WORDS and (state is None or _STATE_WORDS[place] == state):
        kind = "state"
    return place, kind
