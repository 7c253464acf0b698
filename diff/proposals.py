"""Baseline entries proposed from an article's text, for a person to review
(`tracker287g baseline propose`, tracker287g.baseline-proposals/1).  Nothing is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from diff.baseline import UNITS as BASELINE_UNITS
from diff.baseline import BaselineFigure
from diff.figures import extract_figures, link_figure

PROPOSALS_SCHEMA = "tracker287g.baseline-proposals/1"


def propose_entries(text: str, baseline: Sequence[BaselineFigure], *, kind: str,
                    published: dt.date | None) -> list[dict[str, Any]]:
    """One proposal per figure of ``text`` (``kind``: ``html`` or ``text``, which locates
    sentences by line too), with its as-of date and the baseline entry that already holds it."""
    proposals = []
    for figure in extract_figures(text, reference_date=published):
        link = link_figure(figure, baseline)
        location = figure.location
        where = f"paragraph {location.paragraph}, sentence {location.sentence}"
        if kind == "text":
            where = f"line {text.count(chr(10), 0, location.start) + 1}, " + where
        as_of: Any
        if figure.as_of is not None:
            as_of = (figure.as_of.start if figure.as_of.precision == "day"
                     else {"start": figure.as_of.start, "end": figure.as_of.end})
            precision: str | None = figure.as_of.precision
            note = f"from \"{figure.as_of.text}\"" + (" in the dated line that closes an embedded post"
                                                      if figure.as_of.basis == "dated line" else "")
        elif published is not None:
            as_of, precision, note = published, "day", "not stated in the sentence: the publication date"
        else:
            as_of, precision, note = None, None, "not stated in the sentence, and the text has no publication date"
        proposals.append({
            "value": figure.value, "unit": figure.unit, "counts": figure.counts, "scope": figure.scope,
            "as_of": as_of, "as_of_precision": precision, "as_of_note": note,
            "raw": figure.raw, "qualifier": figure.qualifier, "per": figure.per, "change": figure.change,
            "sentence": figure.sentence,
            "location": {"paragraph": location.paragraph, "sentence": location.sentence, "start": location.start,
                         "end": location.end, "text": where},
            "unit_in_baseline_format": figure.unit in BASELINE_UNITS,
            "measure": link.measure.describe() if link.measure else None,
            "in_baseline": link.baseline_id if link.basis == "same value, unit and scope" else None,
        })
    return proposals
