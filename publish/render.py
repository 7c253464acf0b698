"""Rendering rows for the terminal and for other programs: table, JSON, CSV, Markdown.

JSON output is a stable contract: an object ``{"schema": "<name>/<version>", "<items>": [...]}``
whose item fields are documented in the README; new fields may be added, none renamed.

The text comes from documents and pages nobody here controls, so every format neutralises
what its reader would act on: control and bidirectional-override characters (a terminal's
escape sequences, a reversed line) are shown in the xlsx notation ``_x001B_``; a CSV cell
that a spreadsheet would run as a formula starts with an apostrophe; Markdown punctuation that
makes links, images or HTML is escaped.  JSON is left to its encoder (controls become ``\u001b``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def render_json(schema: str, name: str, items: Sequence[Mapping[str, Any]], **extra: Any) -> str:
    document = {"schema": schema, **extra, name: items}
    return json.dumps(document, default=jsonable, ensure_ascii=False, indent=2)


def write_json(file: TextIO, schema: str, name: str, items: Iterable[Mapping[str, Any]], **extra: Any) -> None:
    """``render_json``'s document and a line break, written to ``file`` as it is encoded: the
    same bytes without the whole text in memory (a log of a million changes is hundreds of MB)."""
    document = {"schema": schema, **extra, name: items}
    encoder = json.JSONEncoder(default=jsonable, ensure_ascii=False, indent=2)
    chunks: list[str] = []
    for chunk in encoder.iterencode(document):
        chunks.append(chunk)
        if len(chunks) >= 8192:
            file.write("".join(chunks))
            chunks.clear()
    chunks.append("\n")
    file.write("".join(chunks))


# C0/C1 controls but tab and line breaks, and the characters that reorder a line (bidi overrides,
# isolates and marks): what a terminal or an editor acts on instead of showing.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"[-+]?\d+(\.\d+)?")
# Markdown punctuation that starts links, images, code, HTML or entities, and the table's pipe.
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]<>()!|&])")


def visible(text: str) -> str:
    """``text`` with control and bidi-override characters shown as ``_xHHHH_``."""
    return _UNSAFE.sub(lambda m: f"_x{ord(m[0]):04X}_", text) if _UNSAFE.search(text) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return visible(str(value))


_FORMULA_FIRST = frozenset(_FORMULA_START)


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: formulas are quoted with a leading apostrophe."""
    kind = type(value)
    if value is None:
        return ""
    if kind is int:         # a whole number is its digits, with no control character nor formula
        return str(value)
    text = (_UNSAFE.sub(lambda m: f"_x{ord(m[0]):04X}_", value) if _UNSAFE.search(value) else value) \
        if kind is str else _cell(value)
    if text[:1] in _FORMULA_FIRST and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def render_csv(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def write_csv(file: TextIO, columns: Sequence[str], rows: Iterable[dict]) -> None:
    """``render_csv``'s text, written to ``file`` row by row."""
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(row.get(c)) for c in columns] for row in rows)


def markdown_cell(value: Any) -> str:
    """A table cell shown as text: no link, image, HTML tag or entity can form in it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _cell(value)).replace("\r", " ").replace("\n", " ")


def render_markdown(columns: Sequence[str], rows: Iterable[dict]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# Above this many rows a table is laid out here, not by rich, whose measuring and wrapping cost
# milliseconds a row (three minutes for 57,000 changes): the same box, each cell on one line.
PLAIN_TABLE_ROWS = 1000


def print_table(console: Console, title: str | None, columns: Sequence[str], rows: Iterable[dict]) -> None:
    rows = list(rows)
    if len(rows) > PLAIN_TABLE_ROWS:
        console.file.write(plain_table(title, columns, rows))
        return
    table = Table(title=escape(visible(title)) if title else None, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Scraped text may contain [markup]: show it literally.
        table.add_row(*(escape(_cell(row.get(c))) for c in columns))
    console.print(table)


def plain_table(title: str | None, columns: Sequence[str], rows: Sequence[dict]) -> str:
    """The table in rich's box, without markup, each cell on one line and no cell cut."""
    cells = [[_cell(row.get(c)).replace("\r", " ").replace("\n", " ") for c in columns] for row in rows]
    widths = [max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)]

    def line(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (w + 2) for w in widths) + right

    def row_text(bar: str, values: Sequence[str]) -> str:
        return bar + bar.join(f" {v.ljust(w)} " for v, w in zip(values, widths, strict=True)) + bar

    body = [row_text("│", values) for values in cells]
    top = [line("┏", "━", "┳", "┓"), row_text("┃", columns), line("┡", "━", "╇", "┩")]
    lines = ([visible(title).center(len(top[0])).rstrip()] if title else []) + top + body + [line("└", "─", "┴", "┘")]
    return "\n".join(lines) + "\n"
