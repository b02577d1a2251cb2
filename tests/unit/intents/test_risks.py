"""Which services are forecast to breach, why, and the warning alarms that say so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intentloop_intents import alarmstatus, forecast, risks

SMOOTH = forecast.Smoothing()
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _series(start: float, per_s: float, n: int = 10) -> forecast.Holt:
    state = None
    for t in range(n):
        state = forecast.update(state, float(t), start + per_s * t, SMOOTH)
    assert state is not None
    return state


def _forecasts(**kwargs: object) -> risks.Forecasts:
    latency = {"a-b": _series(1.0, 0.5), "b-c": _series(2.0, 0.0), "a-c": _series(1.0, 0.0)}
    rate = {"a-b": _series(10.0, 0.0), "b-c": _series(10.0, 5.0), "a-c": _series(10.0, 0.0)}
    defaults: dict[str, object] = {
        "latency": latency,
        "rate": rate,
        "capacity_mbps": {"a-b": 100.0, "b-c": 100.0, "a-c": 100.0},
        "horizon_s": 20.0,
    }
    return risks.Forecasts(**(defaults | kwargs))  # type: ignore[arg-type]


def test_a_path_forecast_to_exceed_its_bound_blames_the_rising_link() -> None:
    # a-b: 5.5 ms at t = 9, +0.5 ms/s; b-c flat 2 ms: path 7.5 ms, 10 ms in 5 s
    svc = risks.ServicePath("t1", "s", ("a-b", "b-c"), 10.0)
    found = risks.at_risk([svc], _forecasts(rate={}), now=9.0)
    assert len(found) == 1
    risk = found[0]
    assert risk.indicator == "latencyMs" and risk.links == ("a-b",)
    assert risk.crossing.in_s == pytest.approx(5.0)
    assert "10 ms within 5 s" in risk.reason and "a-b" in risk.reason


def test_a_loose_bound_or_a_flat_path_is_not_at_risk() -> None:
    loose = risks.ServicePath("t1", "loose", ("a-b",), 100.0)
    flat = risks.ServicePath("t1", "flat", ("a-c",), 1.5)
    unbound = risks.ServicePath("t1", "none", ("a-b",), None)
    assert risks.at_risk([loose, flat, unbound], _forecasts(rate={}), now=9.0) == []


def test_a_link_forecast_past_its_utilisation_threshold_puts_every_service_on_it_at_risk() -> None:
    # b-c: 55 Mbps at t = 9, +5 Mbps/s: 90 Mbps (0.9 of 100) in 7 s
    on = risks.ServicePath("t1", "on", ("a-c", "b-c"), None)
    off = risks.ServicePath("t1", "off", ("a-c",), None)
    found = risks.at_risk([on, off], _forecasts(latency={}), now=9.0)
    assert [(r.service.name, r.indicator, r.links) for r in found] == [
        ("on", "utilisationMbps", ("b-c",))
    ]
    assert found[0].crossing.in_s == pytest.approx(7.0)


def test_the_earliest_breach_is_the_one_reported() -> None:
    both = risks.ServicePath("t1", "both", ("a-b", "b-c"), 30.0)  # latency far, load near
    found = risks.at_risk([both], _forecasts(horizon_s=60.0), now=9.0)
    assert found[0].indicator == "utilisationMbps"


def test_alarms_name_when_and_why_and_tie_services_to_the_link() -> None:
    a = risks.ServicePath("t1", "a", ("a-b", "b-c"), 10.0)
    b = risks.ServicePath("t2", "b", ("a-b",), 7.0)
    found = risks.at_risk([a, b], _forecasts(rate={}), now=9.0)
    alarms = risks.predicted_alarms(
        found, NOW, infra_namespace="infra", unmovable={"t2/b": "no other path within 7 ms"}
    )
    by_key = {(x.namespace, x.key): x for x in alarms}
    link = by_key[("infra", "link-a-b-slabreachpredicted")]
    assert link.is_root_cause and link.perceived_severity == "warning"
    assert link.affected_services == (("t1", "a"), ("t2", "b"))
    service = by_key[("t2", "service-b-slabreachpredicted")]
    assert service.root_cause == ("infra", "link-a-b-slabreachpredicted")
    assert "cannot be moved: no other path within 7 ms" in service.specific_problem
    info = service.threshold
    assert info is not None
    assert info["indicatorName"] == "latencyMs" and info["thresholdValue"] == "7"
    assert info["expectedCrossingTime"] == "2026-01-01T12:00:00Z"  # 7 ms in 3 s: to 10 s
    status = alarmstatus.merge_state(None, service, NOW)
    assert status is not None and status["crossedThresholdInformation"] == info


def test_an_alarm_is_not_rewritten_while_the_forecast_only_moves_by_a_hair() -> None:
    svc = risks.ServicePath("t1", "s", ("a-b", "b-c"), 10.0)
    first = risks.at_risk([svc], _forecasts(rate={}), now=9.0)
    later = risks.at_risk([svc], _forecasts(rate={}), now=9.2)
    before = risks.predicted_alarms(first, NOW, infra_namespace="i", unmovable={})
    after = risks.predicted_alarms(later, NOW, infra_namespace="i", unmovable={})
    for old, new in zip(before, after, strict=True):
        stored = alarmstatus.merge_state(None, old, NOW)
        assert alarmstatus.merge_state(stored, new, NOW) is None
