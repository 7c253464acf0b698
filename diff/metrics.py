"""Counts taken from one list of agreements, so that outside figures can be set against them.

Every count is defined here and nowhere else:

``agreements``
    rows of the list.  ICE publishes one row per agency and support model, so one agency
    can have up to three rows (JEM, TFM, WSO).
``agencies``
    distinct ``(state, agency key)`` pairs.
``local_agencies``
    agencies none of whose rows has ``agency_type == "State Agency"``.  An agency whose type is
    ``None`` (blank or unreadable in the source) counts as local: it is not known to be a state
    agency.  ``agencies_without_type`` says how many agencies were counted that way.
``states``
    distinct codes among the 50 states (``diff.normalise.is_state``).  DC, territories
    (GU, MP, PR, VI, AS) and ``"??"`` (state not readable) are not states.
``territories``
    distinct territory codes (``diff.normalise.TERRITORIES``).
``jurisdictions``
    all distinct codes except ``"??"``: states, territories, DC and any other code.

``by_state``, ``by_model``, ``by_state_model`` and ``by_type`` count agreements (rows).
``by_model`` always has the four keys JEM, TFM, WSO and UNKNOWN; ``by_state_model`` holds only
non-zero counts; ``by_type`` files a ``None`` type under ``NO_TYPE``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from diff.normalise import TERRITORIES, is_state
from diff.records import MODEL_NAMES, Agreement

UNREADABLE_STATE = "??"
STATE_AGENCY_TYPE = "State Agency"
NO_TYPE = "UNKNOWN"
MODELS: tuple[str, ...] = (*MODEL_NAMES, "UNKNOWN")


def is_territory(code: str) -> bool:
    """True for AS, GU, MP, PR, VI (``diff.normalise.TERRITORIES``); DC is not a territory."""
    return code in TERRITORIES


@dataclass(frozen=True, slots=True)
class ListMetrics:
    """Counts of one list; see the module docstring for the definition of each field."""

    agreements: int
    agencies: int
    local_agencies: int
    agencies_without_type: int
    states: int
    territories: int
    jurisdictions: int
    by_state: Mapping[str, int]
    by_model: Mapping[str, int]
    by_state_model: Mapping[str, Mapping[str, int]]
    by_type: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict with sorted keys in every mapping."""
        return {
            "agreements": self.agreements,
            "agencies": self.agencies,
            "local_agencies": self.local_agencies,
            "agencies_without_type": self.agencies_without_type,
            "states": self.states,
            "territories": self.territories,
            "jurisdictions": self.jurisdictions,
            "by_state": _sorted_dict(self.by_state),
            "by_model": _sorted_dict(self.by_model),
            "by_state_model": {code: _sorted_dict(self.by_state_model[code]) for code in sorted(self.by_state_model)},
            "by_type": _sorted_dict(self.by_type),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListMetrics:
        expected = {f.name for f in fields(cls)}
        missing = sorted(expected - data.keys())
        unknown = sorted(data.keys() - expected)
        if missing or unknown:
            raise ValueError(f"ListMetrics.from_dict: missing keys {missing}, unknown keys {unknown}")
        return cls(
            agreements=int(data["agreements"]),
            agencies=int(data["agencies"]),
            local_agencies=int(data["local_agencies"]),
            agencies_without_type=int(data["agencies_without_type"]),
            states=int(data["states"]),
            territories=int(data["territories"]),
            jurisdictions=int(data["jurisdictions"]),
            by_state=_frozen_counts(data["by_state"]),
            by_model=_frozen_counts(data["by_model"]),
            by_state_model=MappingProxyType(
                {code: _frozen_counts(counts) for code, counts in sorted(data["by_state_model"].items())}
            ),
            by_type=_frozen_counts(data["by_type"]),
        )


def compute_metrics(agreements: Iterable[Agreement]) -> ListMetrics:
    # Counted with Counter.update over whole columns (its loop runs in C): every accepted list
    # is counted, and a row-by-row loop was most of this function's time.
    keys = [a.key for a in agreements]
    types = [a.agency_type for a in agreements]
    by_state: Counter[str] = Counter(k.state for k in keys)
    by_model: Counter[str] = Counter(dict.fromkeys(MODELS, 0))
    by_model.update(k.model for k in keys)
    by_state_model: dict[str, Counter[str]] = {}
    for (state, model), count in Counter((k.state, k.model) for k in keys).items():
        by_state_model.setdefault(state, Counter())[model] = count
    by_type: Counter[str] = Counter(t if t is not None else NO_TYPE for t in types)
    # each agency (state, agency key) with the types its rows give
    agency_types = {(k.state, k.agency, t) for k, t in zip(keys, types, strict=True)}
    agencies = {(state, agency) for state, agency, _ in agency_types}
    state_agencies = {(state, agency) for state, agency, t in agency_types if t == STATE_AGENCY_TYPE}
    typed = {(state, agency) for state, agency, t in agency_types if t is not None}

    codes = set(by_state)
    return ListMetrics(
        agreements=len(keys),
        agencies=len(agencies),
        local_agencies=len(agencies) - len(state_agencies),
        agencies_without_type=len(agencies) - len(typed),
        states=sum(1 for code in codes if is_state(code)),
        territories=sum(1 for code in codes if is_territory(code)),
        jurisdictions=len(codes - {UNREADABLE_STATE}),
        by_state=_frozen_counts(by_state),
        by_model=_frozen_counts(by_model),
        by_state_model=MappingProxyType({code: _frozen_counts(c) for code, c in sorted(by_state_model.items())}),
        by_type=_frozen_counts(by_type),
    )


def _frozen_counts(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType({str(k): int(v) for k, v in sorted(counts.items())})


def _sorted_dict(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: counts[k] for k in sorted(counts)}
