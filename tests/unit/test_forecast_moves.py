"""The assurance loop moves a service forecast to breach before the breach, when it can."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from intentloop_intents import topology as topo
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import forecasting, kube, outcomes, routing, services
from intentloop_operator.assurance import Assurance
from intentloop_operator.runtime import Runtime

OWNER = "t1/s"


def _link(name: str, a: str, b: str, latency: float) -> topo.LinkSpec:
    return topo.LinkSpec(
        name=name,
        a=topo.Endpoint(a, f"to-{b}"),
        b=topo.Endpoint(b, f"to-{a}"),
        capacity_mbps=100.0,
        latency_ms=latency,
    )


def _runtime(*, detour: bool) -> Runtime:
    rt = Runtime()
    for device in ("r1", "r2", "r4"):
        rt.topology.upsert_device(device)
    rt.topology.upsert_link(_link("r1-r4", "r1", "r4", 1.0))
    if detour:
        rt.topology.upsert_link(_link("r1-r2", "r1", "r2", 1.0))
        rt.topology.upsert_link(_link("r2-r4", "r2", "r4", 1.0))
    spec: dict[str, Any] = {
        "endpoints": [{"device": "r1", "interface": "eth2"}, {"device": "r4", "interface": "eth2"}],
        "bandwidthMbps": 5,
        "sla": {"maxLatencyMs": 8},
    }
    NetworkServiceSpec.model_validate(spec)
    rt.services[OWNER] = {
        "metadata": {"name": "s", "namespace": "t1", "uid": "u1"},
        "spec": spec,
        "status": {"path": ["r1", "r4"], "pathLinks": ["r1-r4"]},
    }
    return rt


def _ramp(rt: Runtime, loop: Assurance) -> tuple[float, dict[str, str]]:
    """Raise r1-r4's latency by 0.5 ms a second until the loop wants to move the service;
    returns the latency then and what was due."""
    for second in range(40):
        latency = 1.0 + 0.5 * second
        rt.topology.set_measured_latency("r1-r4", latency)
        due = loop._evaluate()
        loop._foresee(due, float(second))
        if OWNER in due:
            return latency, due
    pytest.fail("the service was never due")


def test_a_rising_latency_makes_the_service_due_before_its_bound_and_steers_its_route() -> None:
    rt = _runtime(detour=True)
    loop = Assurance(rt, batcher=None)  # type: ignore[arg-type]
    latency, due = _ramp(rt, loop)
    assert latency < 8.0, "the move must come before the bound is crossed"
    assert due[OWNER].startswith("forecast: path latency forecast to reach 8 ms")
    assert rt.steer[OWNER] == frozenset({"r1-r4"})
    spec = NetworkServiceSpec.model_validate(rt.services[OWNER]["spec"])
    assert routing.route(rt, "t1", "s", spec).primary.links == ("r1-r2", "r2-r4")
    alarms = loop.forecasting.alarms(datetime.now(UTC), infra_namespace="infra")
    assert {a.key for a in alarms} == {
        "link-r1-r4-slabreachpredicted",
        "service-s-slabreachpredicted",
    }


def test_without_a_way_round_the_service_stays_and_its_alarm_says_why() -> None:
    rt = _runtime(detour=False)
    loop = Assurance(rt, batcher=None)  # type: ignore[arg-type]
    for second in range(12):  # up to 6.5 ms: forecast to cross 8 ms, not crossed yet
        rt.topology.set_measured_latency("r1-r4", 1.0 + 0.5 * second)
        due = loop._evaluate()
        loop._foresee(due, float(second))
        assert OWNER not in due
    assert OWNER not in rt.steer
    service = next(
        a
        for a in loop.forecasting.alarms(datetime.now(UTC), infra_namespace="infra")
        if a.namespace == "t1"
    )
    assert "cannot be moved" in service.specific_problem
    spec = NetworkServiceSpec.model_validate(rt.services[OWNER]["spec"])
    assert routing.route(rt, "t1", "s", spec).primary.links == ("r1-r4",)


def test_a_steady_link_never_moves_anything() -> None:
    rt = _runtime(detour=True)
    loop = Assurance(rt, batcher=None)  # type: ignore[arg-type]
    for second in range(60):
        rt.topology.set_measured_latency("r1-r4", 5.0 + (0.3 if second % 2 else -0.3))
        due = loop._evaluate()
        loop._foresee(due, float(second))
        assert not due
    assert loop.forecasting.alarms(datetime.now(UTC), infra_namespace="infra") == []


def test_settings_come_from_the_environment_and_zero_turns_forecasting_off() -> None:
    env = {forecasting.HORIZON_ENV: "45", forecasting.THRESHOLD_ENV: "0.8"}
    settings = forecasting.Settings.from_environment(env)
    assert (settings.horizon_s, settings.utilisation_threshold) == (45.0, 0.8)
    assert not forecasting.Settings.from_environment({forecasting.HORIZON_ENV: "0"}).enabled
    with pytest.raises(ValueError, match=forecasting.THRESHOLD_ENV):
        forecasting.Settings.from_environment({forecasting.THRESHOLD_ENV: "1.5"})


async def test_a_failed_move_ahead_of_a_breach_leaves_the_service_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = _runtime(detour=True)
    rt.services[OWNER]["status"]["phase"] = "Ready"
    loop = Assurance(rt, batcher=None)  # type: ignore[arg-type]
    loop._evaluate()  # the SLA is met: the move was optional
    written: list[dict[str, Any]] = []

    async def refused(*_: Any, **__: Any) -> None:
        raise outcomes.Outcome("Provisioning", "TransactionFailed", "r2 refused", retry=True)

    async def patch(plural: str, name: str, body: dict[str, Any], *_: Any, **__: Any) -> None:
        written.append(body["status"])

    async def event(*_: Any, **__: Any) -> None:
        return None

    monkeypatch.setattr(services, "realise", refused)
    monkeypatch.setattr(kube, "patch_object", patch)
    monkeypatch.setattr(kube, "post_event", event)
    await loop._repath(rt.services[OWNER], "t1", "s", "forecast: rising")
    (status,) = written
    assert "phase" not in status and "conditions" not in status
    assert status["remediations"][-1]["outcome"] == "failed: TransactionFailed"
    assert rt.services[OWNER]["status"]["phase"] == "Ready"
