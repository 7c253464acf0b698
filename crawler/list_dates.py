"""The date a list speaks for, and how it was decided (the *basis*, recorded with the snapshot).

In order of preference:

1. the date in the file name (``crawler.filenames``), an Internet Archive capture time
   included;
2. a date given by hand (``backfill --as-of``);
3. the server's ``Last-Modified`` (a crawl);
4. the workbook's own metadata: ``dcterms:modified`` in ``docProps/core.xml``, the time the
   list was last saved (``pendingAgencies.xlsx`` of February 2025 says 2025-02-20);
5. the download time (a crawl).

A date later than the download (or, in a backfill, than today) by more than a day is not
believed: a server sending ``Last-Modified: 2036`` or a name dated next week would make every
later real list look older than it and freeze the tracking.  Such a date is passed over for the
next source, and the reason is kept, so that the ingest raises a ``date_not_believed``
anomaly and the command does not end silently.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import zipfile
from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from crawler.filenames import ListFileName

__all__ = ["FUTURE_SLACK", "ListDate", "decide_list_date", "workbook_saved_at"]

FUTURE_SLACK = dt.timedelta(days=1)   # ICE dates its names in US time; a download is timed in UTC
_CORE_PROPERTIES = "docProps/core.xml"
_MAX_CORE_BYTES = 256_000             # a real core.xml is under 1 KB
_DCTERMS = "{http://purl.org/dc/terms/}"


@dataclass(frozen=True, slots=True)
class ListDate:
    as_of: dt.date | None
    basis: str                                # how: "file name", "workbook metadata (...)", ...
    not_believed: tuple[str, ...] = ()        # dates passed over, each with why


def workbook_saved_at(content: bytes) -> dt.datetime | None:
    """When the workbook was last saved, by its own metadata (``dcterms:modified``, else
    ``dcterms:created``), UTC; None when the file is no zip, has no core properties or they
    cannot be read.  The XML is parsed without entities or external references."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = archive.getinfo(_CORE_PROPERTIES)
            if info.file_size > _MAX_CORE_BYTES:
                return None
            xml = archive.read(info)
        root = ElementTree.fromstring(xml, forbid_dtd=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ElementTree.ParseError, DefusedXmlException):
        return None
    for element in ("modified", "created"):
        node = root.find(_DCTERMS + element)
        if node is not None and node.text:
            try:
                stamp = dt.datetime.fromisoformat(node.text.strip())
            except ValueError:
                continue
            return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)
    return None


def decide_list_date(name: ListFileName | None, content: bytes | None, *, downloaded_at: dt.datetime | None = None,
                     last_modified: str | None = None, given: dt.date | None = None,
                     now: dt.datetime | None = None) -> ListDate:
    """The list's date by the order in the module doc; ``as_of`` None when nothing believable
    is left (a backfill of an undated file without metadata)."""
    reference = downloaded_at or now or dt.datetime.now(dt.UTC)
    latest = reference.date() + FUTURE_SLACK
    where = "the download" if downloaded_at else "today"
    not_believed: list[str] = []

    def believable(date: dt.date, source: str) -> bool:
        if date <= latest:
            return True
        not_believed.append(f"{source} gives {date}, after {where} ({reference.date()}): not believed")
        return False

    def found(date: dt.date, basis: str) -> ListDate:
        if not_believed:
            basis += " (" + "; ".join(not_believed) + ")"
        return ListDate(date, basis, tuple(not_believed))

    if name is not None and name.as_of is not None:
        source = "archive capture time in the file name" if name.captured_at else "file name"
        if believable(name.as_of, "the file name"):
            return found(name.as_of, source + (f" ({name.note})" if name.note else ""))
    if given is not None:
        return found(given, "--as-of")
    if last_modified:
        try:
            modified = email.utils.parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            modified = None
        if modified is not None and believable(modified.date(), f"Last-Modified {last_modified!r}"):
            return found(modified.date(), "HTTP Last-Modified")
    saved_at = workbook_saved_at(content) if content else None
    if saved_at is not None and believable(saved_at.date(), "the workbook's metadata"):
        return found(saved_at.date(), f"workbook metadata (docProps/core.xml: saved {saved_at:%Y-%m-%dT%H:%M:%SZ})")
    if downloaded_at is not None:
        return found(downloaded_at.date(), "date of the download")
    return ListDate(None, "no date: none in the name, no --as-of, none in the workbook's metadata",
                    tuple(not_believed))
