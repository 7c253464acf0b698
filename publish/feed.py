"""Atom 1.0 feed of the change log: one entry per change, or one digest per snapshot.

Entry ids are tag: URIs built from event and snapshot ids, so rebuilding the feed from the
same database gives the same ids.  The XML is built with lxml: scraped text is escaped by
the serialiser, never concatenated into markup.  Characters XML cannot carry (controls, which
lxml refuses) are shown as ``_xHHHH_``, so no text in the log can stop the feed from building.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from publish.changes import ChangeRow
from publish.evidence import evidence_lines, safe_url
from publish.render import visible
from storage.models import Snapshot

ATOM = "http://www.w3.org/2005/Atom"
TAG_AUTHORITY = "tag:tracker287g,2025"
FEED_ID = f"{TAG_AUTHORITY}:changes"
# The entries a feed holds unless told otherwise: the newest, as feeds do (a reader keeps what it
# has seen); every change is in `changes --format json` and the export.
FEED_LIMIT = 500


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
               title: str = "tracker287g: changes to the 287(g) lists", limit: int = 0) -> tuple[bytes, int]:
    """The feed document and its number of entries.  ``rows`` are change rows
    (publish.changes.change_rows); ``per="snapshot"`` groups them by snapshot (``snapshots``: id
    -> Snapshot); changes that belong to no snapshot (news) keep an entry of their own.  The
    entries go newest first; ``limit`` keeps the first ``limit`` of them (0: all), so a feed of
    the latest entries is the beginning of the whole feed, with the same ids and content."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _add(feed, "id", FEED_ID if per == "change" else f"{FEED_ID}/per-snapshot")
    _add(feed, "title", title)
    newest_first = sorted(rows, key=lambda r: r["id"], reverse=True)
    # each entry: the rows it shows, and what writes it
    entries: list[tuple[Sequence[ChangeRow], Callable[[etree._Element], None]]] = []
    if per == "change":
        entries = [((row,), functools.partial(_change_entry, row=row)) for row in newest_first]
    else:
        by_snapshot = sorted(newest_first, key=lambda r: -(r["snapshot_id"] or 0))
        for snapshot_id, group in groupby(by_snapshot, key=lambda r: r["snapshot_id"]):
            ordered = sorted(group, key=lambda r: r["id"])
            if snapshot_id is None or snapshots is None:
                entries += [((row,), functools.partial(_change_entry, row=row)) for row in ordered]
            else:
                entries.append((ordered, functools.partial(_snapshot_entry, snapshot=snapshots[snapshot_id],
                                                           rows=ordered)))
    if limit:
        entries = entries[:limit]
    # the newest change's day, not the build time: a rebuild of the same log is the same feed
    days = [r["occurred_on"] for shown, _ in entries for r in shown if r["occurred_on"]]
    _add(feed, "updated", _stamp(max(days, default=None)))
    author = _add(feed, "author")
    _add(author, "name", "tracker287g")
    _add(feed, "generator", "tracker287g")
    for _, write in entries:
        write(feed)
    document: bytes = etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return document, len(entries)


def snapshots_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Snapshot]:
    """The snapshots of these ids (those a per-snapshot feed names), not every snapshot."""
    wanted = sorted({i for i in ids if i is not None})
    found: dict[int, Snapshot] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update((s.id, s) for s in session.scalars(select(Snapshot).where(Snapshot.id.in_(chunk))))
    return found
