"""The one evidence formatter, on evidence as the change log stores it."""

from __future__ import annotations

import pytest

from publish.evidence import evidence_lines, evidence_text, safe_url

MOA = "https://www.ice.gov/doclib/287gMOA/x.pdf"


@pytest.mark.parametrize(("evidence", "text"), [
    pytest.param({"file": "b.xlsx", "row": 12, "previous_file": "a.xlsx", "previous_row": 10,
                  "previous_row_file": "a.xlsx", "moa_url": MOA},
                 f"File: b.xlsx, row 12; Previous: a.xlsx, row 10; MOA: {MOA}", id="changed-since-the-previous-list"),
    pytest.param({"file": "c.xlsx", "previous_file": "b.xlsx", "previous_row": 4, "previous_row_file": "a.xlsx"},
                 "File: c.xlsx; Previous: b.xlsx; Read from: a.xlsx, row 4", id="row-of-an-older-file"),
    pytest.param({"url": "https://news.example/a", "article_id": 3}, "Source: https://news.example/a", id="news"),
    pytest.param({"file": "b.xlsx", "url": "https://www.ice.gov/b.xlsx"}, "File: b.xlsx", id="source-only-without-file"),
    pytest.param({}, "", id="nothing"),
])
def test_evidence_in_words(evidence, text):
    assert evidence_text(evidence) == text


def test_links_are_kept_only_when_http():
    [moa] = evidence_lines({"moa_url": MOA})
    assert moa.url == MOA and safe_url(moa.url) == MOA
    assert safe_url("javascript:alert(1)") is None and safe_url(None) is None
