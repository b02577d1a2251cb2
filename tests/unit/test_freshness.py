"""Freshness is exported with bounded labels; a probe that finds nothing new writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from intentloop_operator import devices, metrics


def _samples(freshness: metrics.Freshness) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels["check"]): s.value for f in freshness.collect() for s in f.samples}


def test_the_oldest_check_and_the_stale_count_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(metrics.time, "time", lambda: clock[0])
    fresh = metrics.Freshness()
    fresh.track("r1")
    fresh.track("r2")
    fresh.seen("probe", "r1", 20.0)
    fresh.known("probe", "r2", 20.0)  # never answered: counts from when it became known
    clock[0] = 1030.0
    fresh.seen("probe", "r1", 20.0)
    assert _samples(fresh) == {
        ("intentloop_device_check_oldest_timestamp_seconds", "probe"): 1000.0,
        ("intentloop_device_checks_stale", "probe"): 0,
    }
    clock[0] = 1061.0  # r2 has not answered for more than 3 intervals
    assert _samples(fresh)[("intentloop_device_checks_stale", "probe")] == 1
    fresh.forget("r2")  # a deleted device is not a stale one
    assert _samples(fresh) == {
        ("intentloop_device_check_oldest_timestamp_seconds", "probe"): 1030.0,
        ("intentloop_device_checks_stale", "probe"): 0,
    }
    # a probe in flight when r2 was deleted finishes afterwards: r2 stays gone
    clock[0] = 1100.0
    fresh.known("probe", "r2", 20.0)
    clock[0] = 1200.0
    fresh.seen("probe", "r1", 20.0)
    assert _samples(fresh) == {
        ("intentloop_device_check_oldest_timestamp_seconds", "probe"): 1200.0,
        ("intentloop_device_checks_stale", "probe"): 0,
    }


def test_only_a_change_other_than_last_seen_is_worth_a_status_write() -> None:
    before: dict[str, Any] = {"reachable": True, "softwareVersion": "1.0", "lastSeen": "t0"}
    assert not devices.noticeable(before, {**before, "lastSeen": "t1"})
    assert devices.noticeable(before, {**before, "softwareVersion": "1.1", "lastSeen": "t1"})
    assert devices.noticeable(before, {"reachable": False})
