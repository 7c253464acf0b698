"""Rendering rows for the terminal and for other programs: table, JSON, CSV, Markdown.

JSON output is a stable contract: an object ``{"schema": "<name>/<version>", "<items>": [...]}``
whose item fields are documented in the README; new fields may be added, none renamed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def render_csv(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def render_markdown(columns: Sequence[str], rows: Iterable[dict]) -> str:
    def escape_md(value: Any) -> str:
        return _cell(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(escape_md(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def print_table(console: Console, title: str | None, columns: Sequence[str], rows: Iterable[dict]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Scraped text may contain [markup]: show it literally.
        table.add_row(*(escape(_cell(row.get(c))) for c in columns))
    console.print(table)
