"""Atom 1.0 feed of the change log: one entry per change, or one digest per snapshot.

Entry ids are tag: URIs built from event and snapshot ids, so rebuilding the feed from the
same database gives the same ids.  The XML is built with lxml: scraped text is escaped by
the serialiser, never concatenated into markup.  Characters XML cannot carry (controls, which
lxml refuses) are shown as ``_xHHHH_``, so no text in the log can stop the feed from building.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from lxml import etree

from publish.changes import ChangeRow
from publish.evidence import evidence_lines, safe_url
from publish.render import visible
from storage.models import Snapshot

ATOM = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "tag:tracker287g,2025"
FEED_ID = f"{TAG_AUTHORITY}:changes"


def change_entry_id(event_id: int) -> str:
    return f"{TAG_AUTHORITY}:change/{event_id}"


def snapshot_entry_id(snapshot_id: int) -> str:
    return f"{TAG_AUTHORITY}:snapshot/{snapshot_id}"


def _stamp(value: dt.date | None) -> str:
    day = value or dt.date(2025, 1, 1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).isoformat()


# Not XML 1.0 characters, beyond the controls ``visible`` shows: surrogates and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    text = visible(text)
    return _NOT_XML.sub(lambda m: f"_x{ord(m[0]):04X}_", text) if _NOT_XML.search(text) else text


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: Any) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}",
                               {k: _xml_text(str(v)) for k, v in attributes.items() if v})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _entry_text(row: ChangeRow) -> str:
    lines = [row["summary"], *(line.plain() for line in evidence_lines(row["evidence"]))]
    if row.get("status") and row["status"] != "confirmed":
        lines.append(f"Status: {row['status']}")
    if row.get("review"):
        lines.append(f"Review: {row['review']['status']}")
    return "\n".join(lines)


def _change_entry(feed: etree._Element, row: ChangeRow) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", change_entry_id(row["id"]))
    _add(entry, "title", f"{row['kind']}: {row['summary']}")
    _add(entry, "updated", _stamp(row["occurred_on"]))
    _add(entry, "category", term=row["kind"])
    link = safe_url(row["evidence"].get("moa_url") or row["evidence"].get("url"))
    if link:
        _add(entry, "link", href=link, rel="related")
    _add(entry, "content", _entry_text(row), type="text")


def _snapshot_entry(feed: etree._Element, snapshot: Snapshot, rows: Sequence[ChangeRow]) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", snapshot_entry_id(snapshot.id))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    tally = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    _add(entry, "title", f"{snapshot.list_name} list of {snapshot.as_of} ({snapshot.file_name}): {tally}")
    _add(entry, "updated", _stamp(snapshot.as_of))
    _add(entry, "content", "\n\n".join(_entry_text(r) for r in rows), type="text")


def build_feed(rows: Sequence[ChangeRow], *, per: str = "change", snapshots: Mapping[int, Snapshot] | None = None,
               title: str = "tracker287g: changes to the 287(g) lists") -> bytes:
    """The feed document.  ``rows`` are change rows (publish.changes.change_rows);
    ``per="snapshot"`` groups them by snapshot (``snapshots``: id -> Snapshot); changes that
    belong to no snapshot (news) keep an entry of their own."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _add(feed, "id", FEED_ID if per == "change" else f"{FEED_ID}/per-snapshot")
    _add(feed, "title", title)
    # the newest change's day, not the build time: a rebuild of the same log is the same feed
    _add(feed, "updated", _stamp(max((r["occurred_on"] for r in rows if r["occurred_on"]), default=None)))
    author = _add(feed, "author")
    _add(author, "name", "tracker287g")
    _add(feed, "generator", "tracker287g")
    newest_first = sorted(rows, key=lambda r: r["id"], reverse=True)
    if per == "change":
        for row in newest_first:
            _change_entry(feed, row)
    else:
        by_snapshot = sorted(newest_first, key=lambda r: -(r["snapshot_id"] or 0))
        for snapshot_id, group in groupby(by_snapshot, key=lambda r: r["snapshot_id"]):
            ordered = sorted(group, key=lambda r: r["id"])
            if snapshot_id is None or snapshots is None:
                for row in ordered:
                    _change_entry(feed, row)
            else:
                _snapshot_entry(feed, snapshots[snapshot_id], ordered)
    document: bytes = etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return document
