"""The source-health rule on its own: failed once per streak, stale once, recovered after either."""

from __future__ import annotations

import datetime as dt

import pytest

from diff.health import SourceHealth, after_run, check_stale

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(hours=26)


def runs(outcomes: list[str], threshold: int = 3) -> list[str | None]:
    """The event each run's outcome gives, one run an hour, from a healthy source."""
    health, events = SourceHealth(), []
    for n, outcome in enumerate(outcomes):
        verdict = after_run(health, outcome, f"run {n}", NOW + dt.timedelta(hours=n), failures_before_event=threshold)
        health = verdict.health
        events.append(verdict.event)
    return events


@pytest.mark.parametrize(("outcomes", "events"), [
    pytest.param(["failed", "failed"], [None, None], id="below-the-threshold"),
    pytest.param(["failed"] * 5, [None, None, "source.failed", None, None], id="failed-once-per-streak"),
    pytest.param(["failed"] * 3 + ["unchanged"], [None, None, "source.failed", "source.recovered"], id="recovered"),
    pytest.param(["failed", "failed", "changed", "failed", "failed"], [None] * 5, id="a-success-resets-the-count"),
    pytest.param(["failed"] * 3 + ["stopped", "failed"], [None, None, "source.failed", None, None],
                 id="a-stopped-run-says-nothing"),
])
def test_failed_and_recovered(outcomes, events):
    assert runs(outcomes) == events


def test_the_health_after_a_failure_and_after_a_success():
    failed = after_run(SourceHealth(), "failed", "HTTP 500", NOW, failures_before_event=1)
    assert failed.health == SourceHealth(consecutive_failures=1, failure_reported=True, last_error="HTTP 500",
                                         last_outcome="failed")
    recovered = after_run(failed.health, "not_modified", None, NOW, failures_before_event=1)
    assert recovered.health == SourceHealth(last_success_at=NOW, last_outcome="not_modified")
    assert recovered.event == "source.recovered"


def test_stale_once_then_recovered():
    health = SourceHealth(last_success_at=NOW - DAY - dt.timedelta(minutes=1))
    stale = check_stale(health, None, NOW, stale_after=DAY)
    assert stale.event == "source.stale" and stale.health.stale_reported
    assert check_stale(stale.health, None, NOW + DAY, stale_after=DAY).event is None        # once
    assert after_run(stale.health, "unchanged", None, NOW, failures_before_event=3).event == "source.recovered"


@pytest.mark.parametrize(("last_success", "first_run", "stale"), [
    pytest.param(NOW - DAY, None, False, id="exactly-the-limit"),
    pytest.param(None, NOW - DAY - dt.timedelta(seconds=1), True, id="never-a-success-counts-from-the-first-run"),
    pytest.param(None, None, False, id="never-ran"),
])
def test_stale_limits(last_success, first_run, stale):
    verdict = check_stale(SourceHealth(last_success_at=last_success), first_run, NOW, stale_after=DAY)
    assert (verdict.event == "source.stale") is stale


def test_a_run_cut_short_by_a_stop_or_a_database_outage_says_nothing_about_the_source():
    failing = SourceHealth(consecutive_failures=1, last_outcome="failed", last_error="HTTP 500")
    for outcome in ("stopped", "interrupted"):
        verdict = after_run(failing, outcome, "the database became unavailable", NOW, failures_before_event=2)
        assert verdict == after_run(failing, "stopped", None, NOW, failures_before_event=2)
        assert verdict.health == failing and verdict.event is None
