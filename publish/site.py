"""What the report's agency and state pages show, as plain values for the templates.

One reading of the history (``publish.history``) and of the change log gives every page, so
an agency's timeline is exactly the change log's events for its agreements, and a state's
counts are exactly the counts (``metrics``) of the latest accepted participating snapshot.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from publish.changes import ChangeRow
from publish.charts import MOST_POINTS, last_of_each_day
from publish.history import AgencyRecord, History, VersionRow
from publish.maps import Dot, county_shapes
from publish.places import Identity, fbi_population_by_state, identify, state_name, state_slug
from storage.models import NewsArticle, Snapshot

MODELS = ("JEM", "TFM", "WSO")


def agency_href(slug: str) -> str:
    return f"agencies/{slug}.html"


def state_href(code: str) -> str:
    return f"states/{state_slug(code)}.html"


@dataclass
class AgreementLine:
    """One agreement of an agency, as its agency page lists it."""

    list: str
    model: str
    key: str
    listed: bool                  # on its list in the latest snapshot
    signed: dt.date | None
    first_seen: dt.date | None
    last_seen: dt.date | None
    moa_url: str | None
    addendum_url: str | None
    file: str | None
    row: int | None


@dataclass
class AgencyPage:
    record: AgencyRecord
    identity: Identity
    status: str
    agreements: list[AgreementLine]
    timeline: list[ChangeRow]
    news: list[NewsArticle] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.record.slug

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def state(self) -> str:
        return self.record.state

    @property
    def participating_models(self) -> list[str]:
        return sorted(a.model for a in self.agreements if a.listed and a.list == "participating")

    @property
    def first_seen(self) -> dt.date | None:
        """The day it was first seen on the participating list."""
        return min((a.first_seen for a in self.agreements if a.first_seen and a.list == "participating"), default=None)

    @property
    def pending_models(self) -> list[str]:
        return sorted(a.model for a in self.agreements if a.listed and a.list == "pending")


@dataclass
class CountyLine:
    fips: str
    name: str
    agencies: list[AgencyPage]

    @property
    def agreements(self) -> int:
        return sum(len(a.participating_models) for a in self.agencies)


@dataclass
class Coverage:
    """Population served by a state's agencies with a participating agreement (FBI figures)."""

    covered: int
    total: int
    agencies_with_figure: int
    agencies_without_figure: int
    statewide: list[str]          # state agencies with an agreement: statewide, no population of their own

    @property
    def share(self) -> float | None:
        return self.covered / self.total if self.total else None


@dataclass
class StatePage:
    code: str
    name: str
    counts: dict[str, int]                     # agreements and by model, latest snapshot
    agencies_now: int
    agencies: list[AgencyPage]
    counties: list[CountyLine]
    unplaced: list[AgencyPage]                  # listed agencies with no county code
    changes: list[ChangeRow]
    coverage: Coverage | None
    series: dict[str, list[tuple[dt.date, int]]]
    series_thinned: bool = False        # the series hold the last snapshot of each day (charts.thin)

    @property
    def slug(self) -> str:
        return state_slug(self.code)


def _agency_status(listed: Sequence[AgreementLine]) -> str:
    on = {a.list for a in listed if a.listed}
    if "participating" in on:
        return "participating"
    if "pending" in on:
        return "pending"
    ever = {a.list for a in listed}
    return "no longer listed" if "participating" in ever else "no longer pending"


def agency_pages(history: History, changes: Sequence[ChangeRow],
                 news: Mapping[tuple[str, str], list[NewsArticle]],
                 rejected: Collection[tuple[str, str, str]] = frozenset()) -> dict[tuple[str, str], AgencyPage]:
    """A page for every agency ever listed, by (state, agency key); ``rejected``: registry
    matches a reviewer rejected (not shown)."""
    latest = history.latest_versions()
    first_seen = history.first_seen()
    last_seen = _last_seen(history)
    by_key = {(v.list, v.key): (v.state, v.agency_key) for v in history.versions}
    events: dict[tuple[str, str], list[ChangeRow]] = defaultdict(list)
    for change in changes:
        subjects = {by_key.get((change["list"], change["subject_key"]))}
        evidence = change["evidence"] or {}
        for other in ("previous_key", "pending_key"):
            if evidence.get(other):
                listed = "pending" if other == "pending_key" else change["list"]
                subjects.add(by_key.get((listed, evidence[other])))
        for subject in subjects - {None}:
            assert subject is not None
            events[subject].append(change)
    pages = {}
    for pair, record in history.agencies().items():
        seen: dict[int, VersionRow] = {}
        for version in record.versions:
            seen[version.agreement_id] = version
        lines = []
        for agreement_id, newest in seen.items():
            shown = newest if newest.present else _last_present(record.versions, agreement_id)
            lines.append(AgreementLine(
                list=newest.list, model=newest.model, key=newest.key, listed=latest[agreement_id].present,
                signed=shown.signed if shown else None, first_seen=first_seen.get(agreement_id),
                last_seen=last_seen.get(agreement_id), moa_url=shown.moa_url if shown else None,
                addendum_url=shown.addendum_url if shown else None, file=shown.file if shown else None,
                row=shown.row if shown else None))
        lines.sort(key=lambda a: (a.list != "participating", not a.listed, a.model, a.key))
        identity = identify(record.state, record.name, record.latest("county"), rejected)
        timeline = sorted(events.get(pair, []), key=lambda c: (c["occurred_on"] or dt.date.min, c["id"]))
        pages[pair] = AgencyPage(record, identity, _agency_status(lines), lines, timeline, news.get(pair, []))
    return pages


def _last_seen(history: History) -> dict[int, dt.date | None]:
    """The as-of day of the last list file that had each agreement: the latest file of its list
    while it is listed, else the file before the one it was missing from."""
    accepted: dict[str, list[Snapshot]] = defaultdict(list)
    for snapshot in sorted(history.snapshots.values(), key=lambda s: s.id):
        if snapshot.status == "accepted":
            accepted[snapshot.list_name].append(snapshot)
    ids = {name: [s.id for s in files] for name, files in accepted.items()}
    seen = {}
    for agreement_id, version in history.latest_versions().items():
        files = accepted[version.list]
        if version.present:
            seen[agreement_id] = files[-1].as_of if files else version.as_of
        else:       # the last accepted file before the one it was missing from
            before = bisect.bisect_left(ids.get(version.list, []), version.snapshot_id)
            seen[agreement_id] = files[before - 1].as_of if before else None
    return seen


def _last_present(versions: Sequence[VersionRow], agreement_id: int) -> VersionRow | None:
    present = [v for v in versions if v.agreement_id == agreement_id and v.present]
    return present[-1] if present else None


def state_pages(latest: Snapshot | None, snapshots: Sequence[Snapshot], agencies: Mapping[tuple[str, str], AgencyPage],
                changes: Sequence[ChangeRow], codes: Sequence[str] = ()) -> dict[str, StatePage]:
    """A page for each of ``codes`` and every state or territory with an agency on either list, ever."""
    metrics = (latest.metrics or {}) if latest else {}
    by_state: dict[str, list[AgencyPage]] = {code: [] for code in codes}
    for page in agencies.values():
        by_state.setdefault(page.state, []).append(page)
    state_changes: dict[str, list[ChangeRow]] = defaultdict(list)
    for change in changes:
        if change["state"]:
            state_changes[change["state"]].append(change)
    thinned = len(snapshots) > MOST_POINTS
    if thinned:         # what the chart would draw of them: the last snapshot of each day
        snapshots = last_of_each_day([s for s in snapshots if s.as_of], lambda s: s.as_of)
    pages = {}
    for code, members in by_state.items():
        members.sort(key=lambda p: (p.status != "participating", p.status, p.name.lower()))
        counts = {"agreements": metrics.get("by_state", {}).get(code, 0),
                  **{m: metrics.get("by_state_model", {}).get(code, {}).get(m, 0) for m in MODELS}}
        counties: dict[str, CountyLine] = {}
        unplaced = []
        shapes = county_shapes(code)
        for page in members:
            if page.status != "participating":
                continue
            fips = page.identity.county_fips
            if fips and fips in shapes:
                line = counties.setdefault(fips, CountyLine(fips, shapes[fips].name, []))
                line.agencies.append(page)
            else:
                unplaced.append(page)
        series = {model: [(s.as_of, (s.metrics or {}).get("by_state_model", {}).get(code, {}).get(model, 0))
                          for s in snapshots if s.as_of] for model in MODELS}
        series = {"all agreements": [(s.as_of, (s.metrics or {}).get("by_state", {}).get(code, 0))
                                     for s in snapshots if s.as_of], **series}
        pages[code] = StatePage(
            code=code, name=state_name(code), counts=counts,
            agencies_now=sum(1 for p in members if p.status == "participating"), agencies=members,
            counties=sorted(counties.values(), key=lambda c: (-c.agreements, c.name)), unplaced=unplaced,
            changes=sorted(state_changes.get(code, []), key=lambda c: c["id"], reverse=True),
            coverage=_coverage(code, members), series=series, series_thinned=thinned)
    return pages


def _coverage(code: str, members: Sequence[AgencyPage]) -> Coverage | None:
    total = fbi_population_by_state().get(code)
    if not total:
        return None
    participating = [p for p in members if p.status == "participating"]
    counted: dict[str, int] = {}
    without = 0
    for page in participating:
        match = page.identity.match
        if match is not None and match.population:
            counted[match.ori] = match.population      # one FBI record counted once
        else:
            without += 1
    statewide = [p.name for p in participating if p.record.latest("agency_type") == "State Agency"]
    return Coverage(sum(counted.values()), total, len(counted), without, statewide)


def dots_by_county(state_pages_: Mapping[str, StatePage], *, href_prefix: str | None = None) -> list[Dot]:
    """One dot per county with participating agreements, sized by them; linked to the county on
    its state's page when ``href_prefix`` is given."""
    dots = []
    for page in state_pages_.values():
        shapes = county_shapes(page.code)
        for county in page.counties:
            x, y = shapes[county.fips].centroid
            href = None if href_prefix is None else f"{href_prefix}{state_href(page.code)}#county-{county.fips}"
            dots.append(Dot(x, y, county.agreements, f"{county.name}, {page.code} ({len(county.agencies)} agencies)",
                            county.fips, href))
    return dots


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def search_index(agencies: Mapping[tuple[str, str], AgencyPage], states: Mapping[str, StatePage]) -> Markup:
    """The search's entries as JSON safe inside a <script type="application/json"> element:
    [label, kind, page, more words to match (other names, the county)], where the page of an
    agency is its id alone (kind: its status); the script matches the words of the label and of
    the last field."""
    entries: list[list[Any]] = []
    for page in sorted(states.values(), key=lambda p: p.name):
        entries.append([f"{page.name} ({page.code})", "state", state_href(page.code), ""])
        for county in page.counties:
            entries.append([f"{county.name} County, {page.code}", "county",
                            f"{state_href(page.code)}#county-{county.fips}", page.name])
    for agency in sorted(agencies.values(), key=lambda p: (p.name.lower(), p.state)):
        label = f"{agency.name}, {agency.state}"
        more = [n for n in agency.record.names if n != agency.name] + [agency.identity.county or ""]
        entries.append([label, agency.status, agency.slug, _words(" ".join(more))])
    text = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    # Inside <script>, "</script>" or "<!--" in a scraped name would end or change the element.
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
