"""Read the 287(g) lists from the older HTML form of the ICE page.

Until about 2025-02-19 the lists were ``<table class="table">`` elements with the header
STATE, LAW ENFORCEMENT AGENCY, SUPPORT TYPE, SIGNED, MOA.  Each becomes a
``diff.records.SourceTable`` holding the cells as text, untouched except for HTML whitespace
(runs of spaces, tabs and newlines in the markup render as one space, so they are collapsed;
a non-breaking space is kept).  Tables that are not lists are ignored.

The page is untrusted, so every step is linear in its size: each table reads only its own rows
and cells (the text of a table nested in a cell is read into it only up to a fixed number of
nodes), and the heading above each table is found in one pass over the page.  2,000 nested tables took minutes
before (``bench/hostile_pages.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from crawler.columns import canonical_column
from diff.records import AGENCY, STATE, RawRow, RawValue, SourceTable

_ASCII_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_NESTED_BUDGET = 100    # nodes of nested tables read into one cell's text


def parse_list_tables(html: str | bytes, base_url: str) -> list[SourceTable]:
    """Every list table in ``html``, in document order; links resolved against ``base_url``."""
    soup = BeautifulSoup(html, "lxml")
    tables = []
    heading: Tag | None = None        # the last heading before the current element
    position = 0
    for element in soup.find_all(["table", *_HEADING_TAGS]):
        if element.name != "table":
            heading = element
            continue
        position += 1
        source_table = _parse_table(element, position, base_url, heading)
        if source_table is not None:
            tables.append(source_table)
    return tables


def _parse_table(table: Tag, position: int, base_url: str, heading: Tag | None = None) -> SourceTable | None:
    rows = _own_rows(table)
    header_index = _header_row_index(rows)
    if header_index is None:
        return None
    header = tuple(_cell_text(cell) or "" for cell in _cells(rows[header_index]))
    columns = _columns(header)
    if STATE not in columns or AGENCY not in columns:
        return None

    raw_rows: list[RawRow] = []
    skipped_blank_rows = 0
    data_rows = [row for row in rows[header_index + 1 :]
                 if any(isinstance(cell, Tag) and cell.name == "td" for cell in row.contents)]
    for row_number, row in enumerate(data_rows, start=1):
        raw_row = _parse_row(row, row_number, header, columns, base_url)
        if raw_row is None:
            skipped_blank_rows += 1
        else:
            raw_rows.append(raw_row)
    return SourceTable(
        sheet_name=_table_label(table, position, heading),
        header=header,
        columns=columns,
        rows=tuple(raw_rows),
        header_row=header_index + 1,
        skipped_blank_rows=skipped_blank_rows,
    )


def _own_nodes(root: Tag) -> Iterator[PageElement]:
    """The descendants of ``root`` in document order, leaving out tables nested in it (and what
    they hold).  Iterative: a page may nest deeper than Python's recursion limit."""
    stack: list[PageElement] = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name == "table":
                continue
            yield node
            stack.extend(reversed(node.contents))
        else:
            yield node


def _own_rows(table: Tag) -> list[Tag]:
    """The table's rows, leaving out rows of tables nested inside it."""
    return [node for node in _own_nodes(table) if isinstance(node, Tag) and node.name == "tr"]


def _cells(row: Tag) -> list[Tag]:
    return [cell for cell in row.contents if isinstance(cell, Tag) and cell.name in ("td", "th")]


def _header_row_index(rows: list[Tag]) -> int | None:
    """The first row that names a STATE and an agency column (``<th>`` or ``<td>``)."""
    for index, row in enumerate(rows):
        names = {canonical_column(_cell_text(cell) or "") for cell in _cells(row)}
        if STATE in names and AGENCY in names:
            return index
    return None


def _columns(header: tuple[str, ...]) -> tuple[str | None, ...]:
    columns: list[str | None] = []
    for text in header:
        name = canonical_column(text)
        columns.append(None if name in columns else name)  # a repeated column goes to extra
    return tuple(columns)


def _parse_row(
    row: Tag,
    row_number: int,
    header: tuple[str, ...],
    columns: tuple[str | None, ...],
    base_url: str,
) -> RawRow | None:
    cells: dict[str, RawValue] = {}
    links: dict[str, str] = {}
    extra: dict[str, RawValue] = {}
    row_cells = _cells(row)
    for index, cell in enumerate(row_cells):
        text = _cell_text(cell)
        name = columns[index] if index < len(columns) else None
        if name is None:
            key = header[index] if index < len(header) else f"column {index + 1}"
            extra[key] = text
            continue
        cells[name] = text
        link = _cell_link(cell, base_url)
        if link is not None:
            links[name] = link
    if all(value is None for value in (*cells.values(), *extra.values())) and not links:
        return None
    for name in columns[len(row_cells) :]:
        if name is not None:
            cells.setdefault(name, None)  # short row: missing cells are empty
    return RawRow(row_number=row_number, cells=cells, links=links, extra=extra)


def _cell_text(cell: Tag) -> str | None:
    """The cell's text, as ``get_text`` gives it.  A table nested in the cell adds its text, up to
    ``_NESTED_BUDGET`` nodes of it: every level of a deep nest would otherwise read every level
    below it again."""
    parts: list[str] = []
    budget = _NESTED_BUDGET
    # (node, inside a nested table); a node's children are pushed in reverse: document order
    stack: list[tuple[PageElement, bool]] = [(node, False) for node in reversed(cell.contents)]
    while stack:
        node, nested = stack.pop()
        if nested:
            if budget <= 0:
                continue
            budget -= 1
        if isinstance(node, Tag):
            inside = nested or node.name == "table"
            children = node.contents if not inside else node.contents[:max(budget, 0)]
            stack.extend((child, inside) for child in reversed(children))
        elif node.__class__ in (NavigableString, CData):
            parts.append(str(node))
    text = _ASCII_WHITESPACE.sub(" ", "".join(parts)).strip(" ")
    return text or None


def _cell_link(cell: Tag, base_url: str) -> str | None:
    anchor = next((node for node in _own_nodes(cell) if isinstance(node, Tag) and node.name == "a"
                   and node.get("href")), None)
    if anchor is None or not str(anchor["href"]).strip():
        return None
    return urljoin(base_url, str(anchor["href"]).strip())


def _table_label(table: Tag, position: int, heading: Tag | None) -> str:
    """Caption, else the nearest heading before the table, else "table <n>"."""
    caption = next((node for node in _own_nodes(table) if isinstance(node, Tag) and node.name == "caption"), None)
    if caption is not None and _cell_text(caption):
        return _cell_text(caption) or ""
    if heading is not None and _cell_text(heading):
        return _cell_text(heading) or ""
    return f"table {position}"
