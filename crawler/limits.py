"""Caps on reading one published document: they stop decompression bombs and runaway sheets
without refusing real lists.  Kept apart from the readers so that the configuration can name
them without importing calamine and lxml."""

from __future__ import annotations

from dataclasses import dataclass, fields

EXCEL_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class ReadLimits:
    """``max_rows``: data rows of a list sheet (the default is above what Excel can hold, so
    only a lower setting ever refuses a sheet for its length); ``max_file_bytes``: the document
    itself; ``max_uncompressed_bytes``: what a workbook's zip members declare, together."""

    max_rows: int = 2_000_000
    max_file_bytes: int = 50_000_000
    max_uncompressed_bytes: int = 200_000_000

    def reader_caps(self) -> dict[str, int]:
        """The caps as ``crawler.workbook.read_workbook`` takes them (the ingest's read and the
        read-ahead child read with the same ones)."""
        return {"max_bytes": self.max_file_bytes, "max_uncompressed_bytes": self.max_uncompressed_bytes,
                "max_rows": self.max_rows}

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"{f.name} must be at least 1")


DEFAULT_LIMITS = ReadLimits()
