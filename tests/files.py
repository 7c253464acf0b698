"""Where the recorded fixtures are: the real ICE workbooks, saved ICE pages, news feeds and pages."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]          # the project
FIXTURES = ROOT / "tests" / "fixtures"
WORKBOOKS = FIXTURES / "ice-287g"                   # participating/ and pending/, see SOURCES.md
PAGES = FIXTURES / "pages"
NEWS = FIXTURES / "news"


def workbook(name: str) -> Path:
    """A real ICE workbook from the fixtures, by file name."""
    for folder in ("participating", "pending"):
        path = WORKBOOKS / folder / name
        if path.exists():
            return path
    raise FileNotFoundError(name)


def all_workbooks() -> list[Path]:
    return sorted(WORKBOOKS.glob("*/*.xlsx"))
