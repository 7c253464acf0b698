"""Read one ICE 287(g) list workbook (.xlsx) into a ``diff.records.SourceTable``.

Cell values come from python-calamine (fast, Rust).  Calamine does not expose hyperlinks, and
the MOA / ADDENDUM cells say "link" with the address only in a hyperlink, so those are read from
the xlsx package here: the sheet's part is found through ``xl/workbook.xml`` and its rels, and
only the ``<hyperlinks>`` element of the sheet XML (sliced out by byte search) and the sheet's
rels are parsed.

Raw values stay raw: strings as calamine gives them (trailing spaces kept), real Excel dates as
``date`` (``datetime`` when they carry a time of day), text typos such as ``'05/082025'`` as
strings.  Calamine returns ``''``
both for empty cells and for error cells (``#N/A``, ``#REF!``...): the two cannot be told apart
through it, and ``RawRow`` wants ``None`` for either, so ``''`` becomes ``None``.
Whitespace-only strings are kept as they are.

The input is untrusted.  Caps: file size, the sum of the sizes the zip declares for its members
(calamine and this module both refuse a member that inflates beyond its declared size), rows.
XML is parsed by lxml without DTD loading, entity expansion or network, and a DTD in any part
this module reads is refused.  Calamine stores a sheet as a dense grid and aborts the whole
process when the grid cannot be allocated (one cell at XFD1000000 asks for ~500 GB), so each
sheet is checked for far-away cells before calamine may load it: a quick byte scan that sheets
written by Excel pass, and an exact (slow) scan for the others.  Every refusal is an
``UnreadableWorkbook`` with a short ``reason``.

Speed: calamine releases the GIL, so a worker thread inflates and checks the first sheet's XML
while calamine opens the workbook, then reads the hyperlinks while calamine reads the cells.
On the 22 real files this costs about 1.7 times what calamine alone takes to read them; most of
the difference is building the RawRows themselves (about 14,500 rows: ~25 ms of ~60 ms).
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from types import MappingProxyType

from lxml import etree
from python_calamine import CalamineWorkbook, SheetTypeEnum

from crawler.columns import HEADER_ALIASES, canonical_column
from crawler.limits import DEFAULT_LIMITS, ReadLimits
from diff.records import AGENCY, STATE, RawRow, RawValue, SourceTable

log = logging.getLogger(__name__)

__all__ = ["HEADER_ALIASES", "ReadLimits", "UnreadableWorkbook", "canonical_column", "read_workbook",
           "read_workbook_in_one_thread"]

HEADER_SEARCH_ROWS = 10  # the header must be within the first rows of a sheet
MAX_COLUMNS = 64  # ICE's sheets use at most 13; a wider one is refused before calamine loads it

_EMPTY: Mapping[str, str] = MappingProxyType({})  # shared by rows without links or extra cells
_NONE_FOR_EMPTY: Mapping[RawValue, None] = MappingProxyType({"": None})
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, and password-protected .xlsx
_WORKBOOK_PART = "xl/workbook.xml"
_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_MAIN_NS = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",  # Strict OOXML
)
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_REL_ID_ATTRS = tuple(f"{{{ns}}}id" for ns in _REL_NS)

# A sheet whose cells reach beyond this row must hold at least one cell every _MAX_ROWS_PER_CELL
# rows: calamine allocates rows x columns cells whatever the sheet holds, so a handful of cells
# far apart is refused instead of costing gigabytes.  A real list has a cell in every row.
_SPARSE_FLOOR_ROWS = 100_000
_MAX_ROWS_PER_CELL = 2
# A row number Excel can write: 1 to 1,048,576, without leading zeros.
_EXCEL_ROW = (
    rb"(?:[1-9][0-9]{0,5}|10[0-3][0-9]{4}|104[0-7][0-9]{3}|1048[0-4][0-9]{2}|10485[0-6][0-9]|104857[0-6])"
)
# The quick extent scan (see _check_sheet_extent): a match sends the sheet to the exact scan.
_IRREGULAR_SHEET_PATTERNS = (
    re.compile(rb'<c(?! r="[A-Z]' + _EXCEL_ROW + rb'")[\s/>]'),  # a cell without such an r
    re.compile(rb":c[\s/>]"),  # a prefixed cell (calamine ignores namespaces)
)
_CELL_START = b'<c r="'
_CELL_ROW = re.compile(rb'<c r="[A-Z]([0-9]{1,7})"')
_MAX_RANGE_LINK_CELLS_PER_ROW = 16  # hostile overlapping hyperlink ranges must not make us spin
_SINGLE_CELL_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")
_CELL_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_SPACE = re.compile(rb"[ \t\r\n]*")
_ROOT_START = re.compile(
    rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)"  # the root element's qualified name
    rb"(?:\s+[^\s=<>/]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*\s*(/?)>"
)
_HYPERLINKS_START = re.compile(rb"<((?:[A-Za-z_][\w.\-]*:)?)hyperlinks(?=[\s/>])")
_LAST_ROW = re.compile(rb'<row r="([0-9]{1,7})"')
_XPATH_REFS = etree.XPath("*/@ref", smart_strings=False)
_XPATH_LOCATIONS = etree.XPath("*/@location", smart_strings=False)
_XPATH_REL_ID_ATTRS = etree.XPath("*/@Id", smart_strings=False)
_XPATH_TARGETS = etree.XPath("*/@Target", smart_strings=False)
_XPATH_REL_IDS = tuple(
    etree.XPath("*/@r:id", namespaces={"r": namespace}, smart_strings=False) for namespace in _REL_NS
)

# A sheet hyperlink: (row, column letters, target) for one cell, (None, ref, target) for a range.
_Hyperlink = tuple[int | None, str, str]


class UnreadableWorkbook(ValueError):
    """The document is not a list workbook we can read.

    ``reason`` is a short code: ``not_a_workbook``, ``too_large``, ``too_many_rows``,
    ``corrupt``, ``unsafe_xml`` or ``no_list_sheet``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def read_workbook(
    source: bytes | str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_LIMITS.max_file_bytes,
    max_uncompressed_bytes: int = DEFAULT_LIMITS.max_uncompressed_bytes,
    max_rows: int = DEFAULT_LIMITS.max_rows,
) -> SourceTable:
    """The list in an ICE workbook: the first sheet with a STATE and an agency header in its
    first rows; every non-blank row below the header as a ``RawRow`` with its Excel row number.
    The caps are ``crawler.limits.ReadLimits``; a sheet whose cells reach beyond ``max_rows``
    data rows is refused from its XML, before calamine reads it.

    ``source`` is the file's bytes or a path.  Raises ``UnreadableWorkbook`` for anything that
    is not a readable list workbook, ``OSError`` when a path cannot be read.

    """
    return _read_workbook(source, max_bytes, max_uncompressed_bytes, max_rows, overlap=True)


def read_workbook_in_one_thread(
    source: bytes | str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_LIMITS.max_file_bytes,
    max_uncompressed_bytes: int = DEFAULT_LIMITS.max_uncompressed_bytes,
    max_rows: int = DEFAULT_LIMITS.max_rows,
) -> SourceTable:
    """``read_workbook`` (the same table) without its worker thread, which checks and reads the
    sheet's XML while calamine works: that shortens one read, but costs CPU time, so a process
    that reads while the other core is busy anyway (the read-ahead child) reads in one thread."""
    return _read_workbook(source, max_bytes, max_uncompressed_bytes, max_rows, overlap=False)


def _read_workbook(
    source: bytes | str | os.PathLike, max_bytes: int, max_uncompressed_bytes: int, max_rows: int, *, overlap: bool
) -> SourceTable:
    data = _load_bytes(source, max_bytes)
    package = _Package(data, max_uncompressed_bytes)  # size caps, before calamine sees the data
    sheets = _SheetXml(package, package.worksheet_parts(), row_limit=max_rows + HEADER_SEARCH_ROWS, overlap=overlap)
    try:
        with _open_calamine(data) as book:
            sheet_name, grid, header_index = _find_list_sheet(book, sheets, max_rows)
            sheet_names = tuple(book.sheet_names)
        hyperlinks, last_xml_row = sheets.extras(sheet_name)
    finally:
        sheets.close()
    return _build_table(sheet_name, sheet_names, grid, header_index, hyperlinks, last_xml_row)


# --- bytes and zip -------------------------------------------------------------------------


def _load_bytes(source: bytes | str | os.PathLike, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        with open(source, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:
                raise UnreadableWorkbook("too_large", f"file is larger than {max_bytes:,} bytes")
            data = file.read(size + 1)  # read(max_bytes + 1) would allocate max_bytes first
            if len(data) > size:  # the file grew meanwhile
                data += file.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:
        raise UnreadableWorkbook("too_large", f"file is larger than {max_bytes:,} bytes")
    if data.startswith(_OLE_MAGIC):
        raise UnreadableWorkbook(
            "not_a_workbook", "OLE2 file: a legacy .xls or a password-protected workbook, not .xlsx"
        )
    if not data.startswith(_ZIP_MAGIC):
        raise UnreadableWorkbook("not_a_workbook", f"not an xlsx (zip) file; it starts with {data[:16]!r}")
    return data


class _Package:
    """The zip container.  Members are inflated here from the raw bytes: thread-safe, and held
    to the size the zip declares, which is what the caps count."""

    def __init__(self, data: bytes, max_uncompressed_bytes: int) -> None:
        try:
            infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as error:
            raise UnreadableWorkbook("corrupt", f"damaged or truncated zip: {error}") from error
        declared = sum(info.file_size for info in infos)
        if declared > max_uncompressed_bytes:
            raise UnreadableWorkbook(
                "too_large",
                f"zip members declare {declared:,} bytes uncompressed, more than {max_uncompressed_bytes:,}",
            )
        self._data = data
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename.casefold() in self._members:
                # Two readers could pick different copies; refuse rather than guess.
                raise UnreadableWorkbook("corrupt", f"zip holds {info.filename!r} twice")
            self._members[info.filename.casefold()] = info
        if _WORKBOOK_PART not in self._members:
            raise UnreadableWorkbook("not_a_workbook", f"zip has no {_WORKBOOK_PART}: not an xlsx")

    def has(self, name: str) -> bool:
        return name.casefold() in self._members

    def read(self, name: str) -> bytes:
        """The inflated member, checked against the size and CRC the zip declares."""
        info = self._members.get(name.casefold())
        if info is None:
            raise UnreadableWorkbook("corrupt", f"part {name!r} is missing")
        raw = self._raw(name, info)
        if info.compress_type == zipfile.ZIP_STORED:
            content = raw
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            content = _inflate(raw, name, limit=info.file_size)
        else:
            raise UnreadableWorkbook("corrupt", f"part {name!r}: unsupported compression {info.compress_type}")
        if len(content) != info.file_size:
            raise UnreadableWorkbook(
                "corrupt", f"part {name!r} inflates to another size than the {info.file_size:,} bytes declared"
            )
        if zlib.crc32(content) != info.CRC:
            raise UnreadableWorkbook("corrupt", f"part {name!r}: CRC mismatch")
        return content

    def _raw(self, name: str, info: zipfile.ZipInfo) -> bytes:
        if info.flag_bits & 0x1:
            raise UnreadableWorkbook("corrupt", f"part {name!r} is encrypted")
        start = info.header_offset
        header = self._data[start : start + 30]
        if len(header) < 30 or not header.startswith(_ZIP_MAGIC):
            raise UnreadableWorkbook("corrupt", f"part {name!r}: bad local header")
        begin = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        raw = self._data[begin : begin + info.compress_size]
        if len(raw) < info.compress_size:
            raise UnreadableWorkbook("corrupt", f"part {name!r} is cut off")
        return raw

    def worksheet_parts(self) -> dict[str, str]:
        """Sheet name -> worksheet part name, in workbook order (chart sheets left out)."""
        workbook = _parse_xml(self.read(_WORKBOOK_PART), _WORKBOOK_PART)
        targets = self.relationships(_WORKBOOK_RELS, base="xl", type_suffix="/worksheet")
        parts: dict[str, str] = {}
        for sheet in workbook.iter(*(f"{{{namespace}}}sheet" for namespace in _MAIN_NS)):
            rel_id, name = _rel_id(sheet), sheet.get("name")
            if name is not None and rel_id in targets:
                parts[name] = targets[rel_id]
        return parts

    def relationships(self, rels_part: str, *, base: str, type_suffix: str | None = None) -> dict[str, str]:
        """Relationship Id -> target.  With ``type_suffix``: only targets of that type, as part
        names; without: every target exactly as written."""
        if not self.has(rels_part):
            return {}
        content = self.read(rels_part)
        cache_key = (content, base, type_suffix)
        with _rels_cache_lock:
            cached = _rels_cache.get(cache_key)
        if cached is not None:
            return dict(cached)
        targets = self._parse_relationships(content, rels_part, base=base, type_suffix=type_suffix)
        if len(content) <= _RELS_CACHE_MAX_BYTES:
            with _rels_cache_lock:
                while len(_rels_cache) >= _RELS_CACHE_SIZE:
                    del _rels_cache[next(iter(_rels_cache))]
                _rels_cache[cache_key] = dict(targets)
        return targets

    @staticmethod
    def _parse_relationships(content: bytes, rels_part: str, *, base: str,
                             type_suffix: str | None) -> dict[str, str]:
        root = _parse_xml(content, rels_part)
        if type_suffix is None:
            # The usual case in C-level XPath calls: each child a Relationship with Id and Target.
            rel_ids, targets_written = _XPATH_REL_ID_ATTRS(root), _XPATH_TARGETS(root)
            if len(rel_ids) == len(targets_written) == len(root):
                return dict(zip(rel_ids, targets_written))
        targets: dict[str, str] = {}
        for relationship in root.iterchildren(f"{{{_PKG_REL_NS}}}Relationship"):
            rel_id, target = relationship.get("Id"), relationship.get("Target")
            if rel_id is None or target is None:
                continue
            if type_suffix is None:
                targets[rel_id] = target
            elif (relationship.get("Type") or "").endswith(type_suffix):
                targets[rel_id] = _resolve_part(base, target)
        return targets


# A sheet's rels part (a relationship per hyperlink, ~90 kB in ICE's lists) is often the same
# in consecutive workbooks of a history: the last few are kept, by their exact content.
_RELS_CACHE_SIZE = 8               # the workbook's and the list sheet's, of the last few files
_RELS_CACHE_MAX_BYTES = 4_000_000
_rels_cache: dict[tuple[bytes, str, str | None], dict[str, str]] = {}
_rels_cache_lock = threading.Lock()


def _inflate(raw: bytes, name: str, *, limit: int) -> bytes:
    """Inflate raw deflate data into at most ``limit`` + 1 bytes: one byte more than declared
    is enough to see a lie (a zip bomb with a false size)."""
    inflater = zlib.decompressobj(-15)
    try:
        content = inflater.decompress(raw, limit + 1)
    except zlib.error as error:
        raise UnreadableWorkbook("corrupt", f"part {name!r}: {error}") from error
    if len(content) <= limit and not inflater.eof:
        raise UnreadableWorkbook("corrupt", f"part {name!r}: compressed data is cut off")
    return content


def _resolve_part(base: str, target: str) -> str:
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(base, target)
    return posixpath.normpath(path)


def _rels_part_of(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _rel_id(element: etree._Element) -> str | None:
    for attribute in _REL_ID_ATTRS:
        value = element.get(attribute)
        if value is not None:
            return value
    return None


# --- XML ------------------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    # One per use: an lxml parser must not be shared between threads, and a private one lets
    # lxml release the GIL while it parses.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


def _root_start(xml: bytes, part: str) -> int:
    """Where the root element starts, after the prolog.  A DTD can only stand in the prolog;
    Excel never writes one, so there it can only be an entity-expansion trick: refused."""
    if xml.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableWorkbook("corrupt", f"part {part!r} is UTF-16, which Excel does not write")
    position = 3 if xml.startswith(b"\xef\xbb\xbf") else 0
    while True:
        position = _SPACE.match(xml, position).end()
        if xml.startswith(b"<?", position):
            end, skip = xml.find(b"?>", position), 2
        elif xml.startswith(b"<!--", position):
            end, skip = xml.find(b"-->", position + 4), 3
        elif xml.startswith(b"<!", position):
            raise UnreadableWorkbook("unsafe_xml", f"part {part!r} contains a DTD (refused)")
        else:
            return position
        if end < 0:
            raise UnreadableWorkbook("corrupt", f"part {part!r} is cut off in its prolog")
        position = end + skip


def _parse_xml(xml: bytes, part: str) -> etree._Element:
    _root_start(xml, part)
    try:
        return etree.fromstring(xml, _xml_parser())
    except etree.XMLSyntaxError as error:
        raise UnreadableWorkbook("corrupt", f"part {part!r} is not well-formed XML: {error}") from error


# --- sheet XML: extent check, hyperlinks -----------------------------------------------------


class _SheetXml:
    """Sheet XML work.

    ``checked(name)``: the sheet's XML, once it is known that calamine may load the sheet.
    ``extras(name)``: its hyperlinks and the number of the last row written in it.

    With ``overlap``, for the first worksheet both run on a worker thread, started at once: the check while
    calamine opens the workbook, the hyperlinks while calamine reads the cells.  Worker jobs
    never wait for one another, so the pool cannot deadlock.
    """

    def __init__(self, package: _Package, parts: dict[str, str], *, row_limit: int, overlap: bool = True) -> None:
        self._package = package
        self._parts = parts
        self._row_limit = row_limit
        self._checked: dict[str, Future[bytes]] = {}
        self._extras: dict[str, Future[tuple[list[_Hyperlink], int]]] = {}
        if parts and overlap:
            first = next(iter(parts))
            self._checked[first] = Future()
            self._extras[first] = _worker_pool().submit(self._check_then_extras, first)

    def checked(self, name: str) -> bytes:
        if name not in self._checked:
            self._checked[name] = _done(self._load_checked, name)
        return self._checked[name].result()

    def extras(self, name: str) -> tuple[list[_Hyperlink], int]:
        if name not in self._extras:
            self._extras[name] = _done(self._read_extras, name, self.checked(name))
        return self._extras[name].result()

    def close(self) -> None:
        """Wait for the worker, so that no work outlives the call (its errors reach the caller
        only through ``checked`` and ``extras``)."""
        for future in self._extras.values():
            future.exception()

    def _check_then_extras(self, name: str) -> tuple[list[_Hyperlink], int]:
        checked = self._checked[name]
        try:
            xml = self._load_checked(name)
        except BaseException as error:
            checked.set_exception(error)
            raise
        checked.set_result(xml)
        return self._read_extras(name, xml)

    def _load_checked(self, name: str) -> bytes:
        part = self._parts.get(name)
        if part is None:
            raise UnreadableWorkbook("corrupt", f"sheet {name!r} has no worksheet part")
        xml = self._package.read(part)
        _check_sheet_extent(xml, part, self._row_limit)
        return xml

    def _read_extras(self, name: str, xml: bytes) -> tuple[list[_Hyperlink], int]:
        part = self._parts[name]
        hyperlinks = _hyperlink_elements(xml, part)
        needs_rels = any(rel_id is not None for _, rel_id, _ in hyperlinks)
        rels = self._package.relationships(_rels_part_of(part), base="") if needs_rels else {}
        resolved: list[_Hyperlink] = []
        for ref, rel_id, location in hyperlinks:
            target = rels.get(rel_id) if rel_id is not None else None
            if rel_id is not None and target is None:
                log.warning("%s: the hyperlink at %s names a missing relationship %r", part, ref, rel_id)
            if location:
                target = f"{target or ''}#{location}"
            if target is None:
                continue
            # Single-cell refs are split here, off the calling thread: 'G12' -> (12, 'G').
            single = _SINGLE_CELL_REF.fullmatch(ref)
            resolved.append((int(single[2]), single[1], target) if single else (None, ref, target))
        return resolved, _last_row_number(xml)


def _done(function, *args) -> Future:
    future: Future = Future()
    future.set_result(function(*args))
    return future


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="read_workbook")
        return _pool


def _check_sheet_extent(xml: bytes, part: str, row_limit: int) -> None:
    """Refuse a sheet whose cells would make calamine's dense grid too large (and a DTD), or
    that reaches beyond ``row_limit``.

    Quick check first: Excel writes every cell ``<c r="X9">``, with one column letter and a
    row Excel allows (at most 1,048,576), never with a prefix, and in row order.  The last cell
    then gives the extent, once one search has shown that no cell lies below it; a last cell
    beyond the row limit that holds a value is refused at once, before calamine reads a cell.
    Calamine reads cells only inside ``<sheetData>``, so only that is scanned: from the first
    mention of sheetData to the last, which holds it whatever else the file says.  Any other
    sheet goes through the exact, slower scan."""
    begin = xml.find(b"sheetData", _root_start(xml, part))
    if begin < 0:
        return  # no cells at all
    end = max(xml.rfind(b"sheetData>"), begin) + len(b"sheetData>")
    if not any(pattern.search(xml, begin, end) for pattern in _IRREGULAR_SHEET_PATTERNS):
        last = _last_cell(xml, begin, end)
        if last is None:
            return
        last_row, has_value = last
        if has_value and last_row > row_limit:
            raise _over_row_cap(part, last_row, row_limit)
        # A far empty (styled) cell does not extend calamine's grid: the exact scan tells.
        quick = has_value or last_row <= _SPARSE_FLOOR_ROWS
        if quick and last_row <= row_limit and _cell_below(xml, begin, end, last_row) is None:
            if last_row > _SPARSE_FLOOR_ROWS:  # only big sheets need the count
                _check_density(last_row, xml.count(b"<c ", begin, end), part)
            return
    last_row, last_column, cells = _sheet_extent(xml, part)
    if last_column > MAX_COLUMNS:
        raise UnreadableWorkbook("too_large", f"sheet {part!r} has cells in column {last_column:,}")
    if last_row > row_limit:
        raise _over_row_cap(part, last_row, row_limit)
    _check_density(last_row, cells, part)


def _over_row_cap(part: str, last_row: int, row_limit: int) -> UnreadableWorkbook:
    return UnreadableWorkbook(
        "too_many_rows", f"sheet {part!r} has cells down to row {last_row:,}, beyond the row cap "
                         f"({row_limit - HEADER_SEARCH_ROWS:,} rows below a header in the first {HEADER_SEARCH_ROWS})"
    )


def _last_cell(xml: bytes, begin: int, end: int) -> tuple[int, bool] | None:
    """(row, holds a value) of the last ``<c r="X9">`` in ``xml[begin:end]`` (a sheet that
    passed the quick scan); None when there is none."""
    start = xml.rfind(_CELL_START, begin, end)
    match = _CELL_ROW.match(xml, start) if start >= 0 else None
    if match is None:
        return None
    tag_end = xml.find(b">", match.end(), end)
    if tag_end < 0 or xml[tag_end - 1 : tag_end] == b"/":
        return int(match[1]), False
    close = xml.find(b"</c>", tag_end, end)
    body = xml[tag_end + 1 : close if close >= 0 else end]
    return int(match[1]), b"<v" in body or b"<is" in body


def _cell_below(xml: bytes, begin: int, end: int, row: int) -> re.Match[bytes] | None:
    """The first ``<c r="X9">`` placed below ``row``, in one C-level search."""
    return re.compile(_CELL_START + rb"[A-Z]" + _greater_than(row) + b'"').search(xml, begin, end)


def _greater_than(number: int) -> bytes:
    """A regex for the decimal numbers above ``number`` (no leading zeros, at most 7 digits,
    which is all the quick scan lets through)."""
    digits = str(number)
    width = len(digits)
    options = [rb"[1-9][0-9]{%d,6}" % width] if width < 7 else []
    for position, digit in enumerate(digits):
        if digit != "9":
            rest = width - position - 1
            options.append(
                digits[:position].encode() + b"[%d-9]" % (int(digit) + 1) + (b"[0-9]{%d}" % rest if rest else b"")
            )
    return b"(?:" + b"|".join(options) + b")" if options else b"(?!)"


def _check_density(last_row: int, cells: int, part: str) -> None:
    """A sheet reaching far down must hold cells in proportion (see _SPARSE_FLOOR_ROWS)."""
    if last_row > _SPARSE_FLOOR_ROWS and last_row > _MAX_ROWS_PER_CELL * cells:
        raise UnreadableWorkbook(
            "too_large", f"sheet {part!r} reaches row {last_row:,} but holds only {cells:,} cells"
        )


def _sheet_extent(xml: bytes, part: str) -> tuple[int, int, int]:
    """(last row, last column, number of cells), the first two 1-based, of the cells holding a
    value, placed the way calamine
    places them (a cell without ``r`` follows the one before).  An upper bound where the XML
    does not say what calamine does (lxml cannot tell ``<row/>`` from ``<row></row>``)."""
    last_row = last_column = cells = 0
    row_index = column_index = 0  # 0-based position of a cell without r
    cell: tuple[int, int] | None = None
    has_value = False
    events = etree.iterparse(
        io.BytesIO(xml), events=("start", "end"), resolve_entities=False, no_network=True,
        load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip
    try:
        for event, element in events:
            local = element.tag.rpartition("}")[2]
            if event == "start":
                if local == "row" and element.get("r") is not None:
                    row_index = max(row_index, _parse_row_number(element.get("r"), part) - 1)
                elif local == "c":
                    parent = element.getparent()
                    if parent is None or parent.tag.rpartition("}")[2] != "row":
                        raise UnreadableWorkbook("corrupt", f"sheet {part!r} has a cell outside a row")
                    if element.get("r") is not None:
                        row, column_index = _parse_cell_ref(element.get("r"), part)
                    else:
                        row = row_index
                    cell, has_value = (row, column_index), False
                elif local in ("v", "is"):
                    has_value = True
            elif local == "c":
                if has_value and cell is not None:
                    cells += 1
                    last_row = max(last_row, cell[0] + 1)
                    last_column = max(last_column, cell[1] + 1)
                cell = None
                column_index += 1
            elif local == "row":
                row_index += 1
                column_index = 0
                element.clear()
    except etree.XMLSyntaxError as error:
        raise UnreadableWorkbook("corrupt", f"sheet {part!r} is not well-formed XML: {error}") from error
    return last_row, last_column, cells


def _parse_row_number(text: str, part: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1_048_576:
        raise UnreadableWorkbook("corrupt", f"sheet {part!r}: bad row number {text!r}")
    return int(text)


def _parse_cell_ref(text: str, part: str) -> tuple[int, int]:
    """'B7' -> (6, 1): 0-based row and column."""
    match = _CELL_REF.fullmatch(text)
    if match is None:
        raise UnreadableWorkbook("corrupt", f"sheet {part!r}: bad cell reference {text!r}")
    return _parse_row_number(match[2], part) - 1, _column_index(match[1])


def _column_index(letters: str) -> int:
    """'A' -> 0, 'AB' -> 27."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _column_letters(index: int) -> str:
    """0 -> 'A', 27 -> 'AB'."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _hyperlink_elements(xml: bytes, part: str) -> list[tuple[str, str | None, str | None]]:
    """(ref, r:id, location) of each ``<hyperlink>``, parsing only the ``<hyperlinks>`` element."""
    root = _ROOT_START.match(xml, _root_start(xml, part))
    if root is None or root[2]:  # no root element, or an empty one
        return []
    start = _HYPERLINKS_START.search(xml, max(xml.rfind(b"sheetData>"), root.end()))
    if start is None:
        return []
    tag_end = xml.find(b">", start.end())
    if tag_end < 0:
        raise UnreadableWorkbook("corrupt", f"sheet {part!r} is cut off in <hyperlinks>")
    if xml[tag_end - 1 : tag_end] == b"/":
        return []
    close = xml.find(b"</" + start[1] + b"hyperlinks", tag_end)
    close_end = xml.find(b">", close)
    if close < 0 or close_end < 0:
        raise UnreadableWorkbook("corrupt", f"sheet {part!r} is cut off in <hyperlinks>")
    # The prolog keeps the declared encoding; the root's start tag carries the namespace
    # declarations the slice needs.
    document = xml[: root.end()] + xml[start.start() : close_end + 1] + b"</" + root[1] + b">"
    hyperlinks = _parse_xml(document, part)[0]
    # The usual case in a few C-level XPath calls: every child a hyperlink with ref and r:id.
    refs = _XPATH_REFS(hyperlinks)
    if len(refs) == len(hyperlinks) and not _XPATH_LOCATIONS(hyperlinks):
        for xpath in _XPATH_REL_IDS:
            rel_ids = xpath(hyperlinks)
            if len(rel_ids) == len(refs):
                return [(ref, rel_id, None) for ref, rel_id in zip(refs, rel_ids)]
    return [
        (link.get("ref"), _rel_id(link), link.get("location"))
        for link in hyperlinks
        if link.tag.rpartition("}")[2] == "hyperlink" and link.get("ref")
    ]


def _last_row_number(xml: bytes) -> int:
    """The number of the last ``<row>`` written in the sheet (styled empty rows included);
    0 when it cannot be read cheaply."""
    end = xml.rfind(b"sheetData>")
    start = xml.rfind(b'<row r="', 0, end if end >= 0 else len(xml))
    match = _LAST_ROW.match(xml, start) if start >= 0 else None
    return int(match[1]) if match else 0


# --- calamine -------------------------------------------------------------------------------


def _open_calamine(data: bytes) -> CalamineWorkbook:
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as error:  # CalamineError and its kinds: a damaged file
        raise UnreadableWorkbook("corrupt", f"calamine cannot read the workbook: {error}") from error
    except BaseException as error:
        _raise_if_panic(error)
        raise


def _raise_if_panic(error: BaseException) -> None:
    # pyo3 turns a Rust panic into PanicException, a BaseException (so that nothing catches
    # it by accident); a panic on a file is still only a damaged file.
    if type(error).__name__ == "PanicException":
        raise UnreadableWorkbook("corrupt", f"calamine failed on the workbook: {error}") from error


def _find_list_sheet(
    book: CalamineWorkbook, sheets: _SheetXml, max_rows: int
) -> tuple[str, list[list[RawValue]], int]:
    """(sheet name, its rows from Excel row 1, 0-based index of the header row)."""
    for metadata in book.sheets_metadata:
        if metadata.typ != SheetTypeEnum.WorkSheet:
            continue
        sheets.checked(metadata.name)  # may calamine build this sheet's grid? (raises if not)
        try:
            grid = book.get_sheet_by_name(metadata.name).to_python(skip_empty_area=False)
        except Exception as error:  # CalamineError and its kinds
            raise UnreadableWorkbook("corrupt", f"sheet {metadata.name!r}: {error}") from error
        except BaseException as error:
            _raise_if_panic(error)
            raise
        header_index = _header_row_index(grid)
        if header_index is None:
            continue
        if len(grid) - 1 - header_index > max_rows:
            raise UnreadableWorkbook("too_many_rows", f"sheet {metadata.name!r} has more rows than the row cap "
                                                      f"({max_rows:,})")
        return metadata.name, grid, header_index
    raise UnreadableWorkbook(
        "no_list_sheet",
        f"no sheet has a STATE and an agency header in its first {HEADER_SEARCH_ROWS} rows "
        f"(sheets: {', '.join(book.sheet_names) or 'none'})",
    )


def _header_row_index(rows: Sequence[Sequence[RawValue]]) -> int | None:
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = {canonical_column(value) for value in row}
        if STATE in columns and AGENCY in columns:
            return index
    return None


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    header: tuple[str, ...]
    columns: tuple[str | None, ...]
    extra_keys: tuple[tuple[int, str], ...]  # (column index, key in RawRow.extra)


def _build_table(
    sheet_name: str,
    sheet_names: tuple[str, ...],
    grid: list[list[RawValue]],
    header_index: int,
    hyperlinks: list[_Hyperlink],
    last_xml_row: int,
) -> SourceTable:
    data_rows = grid[header_index + 1 :]
    layout = _layout(grid[header_index], data_rows)
    first_row_number = header_index + 2
    links = _links_by_row(hyperlinks, layout.columns, first_row_number, len(grid))
    rows, blank = _raw_rows(data_rows, first_row_number, layout, links)
    trailing = max(0, last_xml_row - len(grid))  # styled empty rows, which calamine leaves out
    return SourceTable(
        sheet_name=sheet_name,
        header=layout.header,
        columns=layout.columns,
        rows=rows,
        sheet_names=sheet_names,
        header_row=header_index + 1,
        skipped_blank_rows=blank + trailing,
    )


def _is_blank(value: RawValue) -> bool:
    return value is None or (value.__class__ is str and (not value or value.isspace()))


def _layout(header_cells: Sequence[RawValue], data_rows: list[list[RawValue]]) -> _Layout:
    """Header texts and canonical columns up to the last column with a header or any data.
    Columns we do not know, and headerless columns holding data, go to ``extra``."""
    texts = ["" if _is_blank(value) else str(value) for value in header_cells]
    used = [bool(text) or any(not _is_blank(row[index]) for row in data_rows) for index, text in enumerate(texts)]
    width = max((index + 1 for index, in_use in enumerate(used) if in_use), default=0)
    columns: list[str | None] = []
    extra_keys: list[tuple[int, str]] = []
    for index in range(width):
        name = canonical_column(texts[index])
        if name in columns:
            name = None  # a second column with the same meaning is kept as an extra
        columns.append(name)
        if name is None and used[index]:
            key = texts[index] or f"column {_column_letters(index)}"
            if key in {existing for _, existing in extra_keys}:
                key = f"{key} (column {_column_letters(index)})"
            extra_keys.append((index, key))
    return _Layout(tuple(texts[:width]), tuple(columns), tuple(extra_keys))


def _links_by_row(
    hyperlinks: list[_Hyperlink], columns: tuple[str | None, ...], first_row: int, last_row: int
) -> dict[int, dict[str, str]]:
    """Row number -> {canonical column: target} for the cells of data rows under known
    columns.  A later hyperlink over the same cell wins, as in openpyxl."""
    named = {_column_letters(index): name for index, name in enumerate(columns) if name is not None}
    by_row: dict[int, dict[str, str]] = {}
    range_cells = 0
    for row, where, target in hyperlinks:
        if row is not None:  # one cell: the usual case, kept fast
            name = named.get(where)
            if name is not None and first_row <= row <= last_row:
                by_row.setdefault(row, {})[name] = target
            continue
        for top, left, bottom, right in _ref_ranges(where):
            for letters, name in named.items():
                if left <= _column_index(letters) <= right:
                    for row in range(max(top, first_row), min(bottom, last_row) + 1):
                        by_row.setdefault(row, {})[name] = target
                        range_cells += 1
        if range_cells > _MAX_RANGE_LINK_CELLS_PER_ROW * max(last_row, 1):
            raise UnreadableWorkbook("too_large", "hyperlink ranges cover too many cells")
    return by_row


def _ref_ranges(ref: str) -> Iterator[tuple[int, int, int, int]]:
    """'G5:H9' (or several, space-separated) -> (top row, left column, bottom row, right
    column); rows 1-based, columns 0-based.  Unreadable refs are skipped."""
    for piece in ref.split():
        corners = [_CELL_REF.fullmatch(corner) for corner in piece.split(":")]
        if len(corners) > 2 or any(corner is None for corner in corners):
            log.warning("a hyperlink with the unreadable ref %r is ignored", ref)
            continue
        rows = [int(corner[2]) for corner in corners]
        columns = [_column_index(corner[1]) for corner in corners]
        yield min(rows), min(columns), max(rows), max(columns)


def _raw_rows(
    data_rows: list[list[RawValue]],
    first_row_number: int,
    layout: _Layout,
    links: dict[int, dict[str, str]],
) -> tuple[tuple[RawRow, ...], int]:
    """The non-blank rows as RawRows, and the number of blank ones."""
    known = [(index, name) for index, name in enumerate(layout.columns) if name is not None]
    names = tuple(name for _, name in known)
    indexes = [index for index, _ in known]
    width = len(data_rows[0]) if data_rows else 0
    if indexes == list(range(width)):
        pick = None  # the row is the cells, in order
    elif len(indexes) > 1:
        pick = itemgetter(*indexes)
    else:
        pick = lambda row: tuple(row[index] for index in indexes)  # noqa: E731
    numbers = [
        number
        for number, row in enumerate(data_rows, first_row_number)
        # Rows start with a state name; only the others need the full blank test.
        if (row[0].__class__ is str and row[0] and not row[0].isspace()) or not all(map(_is_blank, row))
    ]
    kept = [data_rows[number - first_row_number] for number in numbers]
    values = kept if pick is None else list(map(pick, kept))
    none_for_empty = _NONE_FOR_EMPTY.get  # none_for_empty(v, v): None for '', else v
    # Built with C-level map()s: this loop is most of the reader's own time on big lists.
    cells = map(dict, map(zip, repeat(names), map(map, repeat(none_for_empty), values, values)))
    if layout.extra_keys:
        extras: Iterator[Mapping[str, RawValue]] = (
            {key: none_for_empty(row[index], row[index]) for index, key in layout.extra_keys} for row in kept
        )
    else:
        extras = repeat(_EMPTY)
    rows = tuple(map(RawRow, numbers, cells, map(links.get, numbers, repeat(_EMPTY)), extras))
    return rows, len(data_rows) - len(rows)
