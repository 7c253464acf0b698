"""diff.metrics: every count on small lists of Agreements built for the case."""

from __future__ import annotations

import json

import pytest

from diff.metrics import ListMetrics, compute_metrics, is_territory
from diff.normalise import is_state
from diff.records import Agreement, AgreementKey


def agreement(state: str, agency: str, model: str = "TFM", agency_type: str | None = "County", occurrence: int = 1) -> Agreement:
    return Agreement(
        key=AgreementKey(state, agency.upper(), model, occurrence),
        agency=agency,
        agency_type=agency_type,
        county=None,
        signed=None,
        moa=None,
        moa_url=None,
        addendum=None,
        addendum_url=None,
        row_number=1,
        raw={},
    )


CASES = {
    "empty list": (
        [],
        dict(agreements=0, agencies=0, local_agencies=0, agencies_without_type=0, states=0, territories=0, jurisdictions=0),
    ),
    "one agency with all three models is three agreements, one agency": (
        [agreement("AL", "Autauga County Sheriff", m) for m in ("JEM", "TFM", "WSO")],
        dict(agreements=3, agencies=1, local_agencies=1, states=1, jurisdictions=1),
    ),
    "same agency name in two states is two agencies": (
        [agreement("TX", "Sheriff"), agreement("FL", "Sheriff")],
        dict(agencies=2, local_agencies=2, states=2),
    ),
    "state agency is not local": (
        [agreement("FL", "Florida Highway Patrol", agency_type="State Agency"), agreement("FL", "Miami Police", agency_type="Municipality")],
        dict(agencies=2, local_agencies=1),
    ),
    "agency with one State Agency row among others is not local": (
        [agreement("FL", "Dept", "TFM", "State Agency"), agreement("FL", "Dept", "JEM", None)],
        dict(agencies=1, local_agencies=0, agencies_without_type=0),
    ),
    "blank type counts as local and is reported": (
        [agreement("GA", "Cobb County", agency_type=None), agreement("GA", "Cobb County", "WSO", None)],
        dict(agencies=1, local_agencies=1, agencies_without_type=1),
    ),
    "territories, DC and ?? are not states": (
        [agreement("GU", "AG Office"), agreement("MP", "CNMI DPS"), agreement("DC", "MPD"), agreement("??", "Unknown"), agreement("WY", "Sheriff")],
        dict(states=1, territories=2, jurisdictions=4, agencies=5),
    ),
    "exact duplicate row (occurrence 2) is two agreements, one agency": (
        [agreement("TX", "Sheriff", occurrence=1), agreement("TX", "Sheriff", occurrence=2)],
        dict(agreements=2, agencies=1),
    ),
}


@pytest.mark.parametrize("rows, expected", CASES.values(), ids=CASES.keys())
def test_counts(rows, expected):
    metrics = compute_metrics(rows)
    assert {name: getattr(metrics, name) for name in expected} == expected


def test_breakdowns_count_rows():
    metrics = compute_metrics([
        agreement("AL", "A", "JEM"), agreement("AL", "A", "TFM"), agreement("AL", "B", "TFM", "Municipality"),
        agreement("TX", "C", "UNKNOWN", None),
    ])
    assert dict(metrics.by_state) == {"AL": 3, "TX": 1}
    assert dict(metrics.by_model) == {"JEM": 1, "TFM": 2, "UNKNOWN": 1, "WSO": 0}
    assert {k: dict(v) for k, v in metrics.by_state_model.items()} == {"AL": {"JEM": 1, "TFM": 2}, "TX": {"UNKNOWN": 1}}
    assert dict(metrics.by_type) == {"County": 2, "Municipality": 1, "UNKNOWN": 1}


def test_to_dict_is_json_ready_and_round_trips():
    metrics = compute_metrics([agreement("FL", "A", "JEM"), agreement("GU", "B", "WSO", None)])
    data = json.loads(json.dumps(metrics.to_dict()))
    assert data["by_state_model"] == {"FL": {"JEM": 1}, "GU": {"WSO": 1}}
    assert ListMetrics.from_dict(data) == metrics


def test_from_dict_names_missing_and_unknown_keys():
    data = compute_metrics([]).to_dict()
    del data["states"]
    data["state_count"] = 1
    with pytest.raises(ValueError, match=r"missing keys \['states'\], unknown keys \['state_count'\]"):
        ListMetrics.from_dict(data)


def test_metrics_are_frozen():
    metrics = compute_metrics([agreement("FL", "A")])
    with pytest.raises(AttributeError):
        metrics.agreements = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        metrics.by_state["FL"] = 2  # type: ignore[index]


@pytest.mark.parametrize("code, state, territory", [
    ("FL", True, False), ("WY", True, False), ("DC", False, False), ("GU", False, True),
    ("MP", False, True), ("PR", False, True), ("??", False, False),
])
def test_state_and_territory_codes(code, state, territory):
    assert (is_state(code), is_territory(code)) == (state, territory)
