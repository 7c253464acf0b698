"""The words for a change event's evidence: one formatter for every output.

The change log's table, CSV and Markdown, the Atom feed, the HTML report, the
notifications and the review prompt all show evidence through ``evidence_lines``; only the
layout differs (one line, one line each, HTML).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EvidenceLine:
    label: str                # File, Previous, Read from, MOA, Source
    text: str                 # "participatingAgencies05292025am.xlsx, row 12", or the address
    url: str | None = None    # the address of the MOA and Source lines

    def plain(self) -> str:
        return f"{self.label}: {self.text}"


def safe_url(url: str | None) -> str | None:
    """``url`` when it may become a link (http or https), else None: scraped text may hold
    ``javascript:`` or ``data:`` addresses."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _where(file: Any, row: Any) -> str:
    return f"{file}, row {row}" if row else str(file)


def evidence_lines(evidence: Mapping[str, Any]) -> list[EvidenceLine]:
    """The file and row an event was read from; the previous list's file, and the file and row
    the previous values were read from when that is an older file (the row numbers of one file
    say nothing about another); the MOA document; the source address when there is no file
    (news, source health)."""
    lines = []
    if evidence.get("file"):
        lines.append(EvidenceLine("File", _where(evidence["file"], evidence.get("row"))))
    previous, row_file = evidence.get("previous_file"), evidence.get("previous_row_file")
    if previous and row_file and row_file != previous:
        # The agreement was last read from an older file, unchanged since: its row number is that file's.
        lines.append(EvidenceLine("Previous", str(previous)))
        lines.append(EvidenceLine("Read from", _where(row_file, evidence.get("previous_row"))))
    elif previous:
        lines.append(EvidenceLine("Previous", _where(previous, evidence.get("previous_row"))))
    if evidence.get("moa_url"):
        lines.append(EvidenceLine("MOA", evidence["moa_url"], evidence["moa_url"]))
    if evidence.get("url") and not evidence.get("file"):
        lines.append(EvidenceLine("Source", evidence["url"], evidence["url"]))
    return lines


def evidence_text(evidence: Mapping[str, Any]) -> str:
    """The evidence on one line, for tables, CSV and Markdown."""
    return "; ".join(line.plain() for line in evidence_lines(evidence))


def event_text(row: Mapping[str, Any], *, indent: str = "  ") -> str:
    """A change row for people reading plain text (e-mail, the review prompt): its heading,
    summary and evidence, one per line."""
    heading = f"#{row['id']} {row['occurred_on']} {row['kind']} {row['state'] or ''}".rstrip()
    lines = [heading, indent + row["summary"], *(indent + line.plain() for line in evidence_lines(row["evidence"]))]
    return "\n".join(lines)
