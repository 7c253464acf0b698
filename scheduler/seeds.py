"""Reading the data in seeds/ (the caller-facing I/O the pure diff package leaves out)."""

from __future__ import annotations

from pathlib import Path

from diff.baseline import BaselineFigure, parse_baseline

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"


def load_baseline(path: Path | None = None) -> tuple[BaselineFigure, ...]:
    path = path or SEEDS_DIR / "baseline.toml"
    return parse_baseline(path.read_text(encoding="utf-8"))
