"""Maintenance in the assurance loop: who is drained when, who cannot move, who returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from intentloop_intents import topology as topo
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import draining, routing
from intentloop_operator.runtime import Runtime

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def _link(name: str, latency: float) -> topo.LinkSpec:
    a, b = name.split("-")
    return topo.LinkSpec(
        name=name,
        a=topo.Endpoint(a, f"to-{b}"),
        b=topo.Endpoint(b, f"to-{a}"),
        capacity_mbps=100.0,
        latency_ms=latency,
    )


def _service(rt: Runtime, name: str, bound: float) -> None:
    spec: dict[str, Any] = {
        "endpoints": [{"device": "r1", "interface": "eth1"}, {"device": "r4", "interface": "eth1"}],
        "bandwidthMbps": 5,
        "sla": {"maxLatencyMs": bound},
    }
    NetworkServiceSpec.model_validate(spec)
    rt.services[f"t1/{name}"] = {
        "metadata": {"name": name, "namespace": "t1"},
        "spec": spec,
        "status": {"phase": "Ready", "path": ["r1", "r4"], "pathLinks": ["r1-r4"]},
    }


def _runtime() -> Runtime:
    rt = Runtime()
    for device in ("r1", "r2", "r4"):
        rt.topology.upsert_device(device)
    for name, latency in (("r1-r4", 1.0), ("r1-r2", 2.0), ("r2-r4", 2.0)):
        rt.topology.upsert_link(_link(name, latency))
    _service(rt, "roomy", 8.0)
    _service(rt, "tight", 2.0)
    rt.maintenances["mw"] = {
        "spec": {
            "target": {"kind": "Link", "name": "r1-r4"},
            "start": T0.isoformat(),
            "end": (T0 + timedelta(minutes=10)).isoformat(),
            "drainBeforeS": 60,
        },
        "status": {},
    }
    return rt


def test_before_the_drain_nothing_moves_but_who_cannot_move_is_known() -> None:
    rt = _runtime()
    d = draining.Draining(rt)
    due: dict[str, str] = {}
    d.tick(due, T0 - timedelta(minutes=5))
    assert due == {} and rt.drained == {}
    status = d._status(draining.windows_of(rt)[0], T0 - timedelta(minutes=5))
    assert status["phase"] == "Scheduled"
    assert [c["service"]["name"] for c in status["cannotMove"]] == ["tight"]
    assert status["cannotMove"][0]["reason"].startswith("degraded: best route 4.0 ms")


def test_draining_moves_the_services_with_a_way_round_and_routes_avoid_the_link() -> None:
    rt = _runtime()
    d = draining.Draining(rt)
    due: dict[str, str] = {}
    d.tick(due, T0 - timedelta(seconds=30))
    assert rt.drained == {"r1-r4": "mw"}
    assert list(due) == ["t1/roomy"] and due["t1/roomy"].startswith("maintenance mw of Link r1-r4")
    spec = NetworkServiceSpec.model_validate(rt.services["t1/roomy"]["spec"])
    assert routing.route(rt, "t1", "roomy", spec).primary.links == ("r1-r2", "r2-r4")
    tight = NetworkServiceSpec.model_validate(rt.services["t1/tight"]["spec"])
    assert routing.route(rt, "t1", "tight", tight).primary.links == ("r1-r4",)  # no way round


def test_after_the_window_the_drained_services_are_sent_back_once() -> None:
    rt = _runtime()
    d = draining.Draining(rt)
    d.tick({}, T0 - timedelta(seconds=30))
    rt.services["t1/roomy"]["status"]["pathLinks"] = ["r1-r2", "r2-r4"]  # it was moved
    after = T0 + timedelta(minutes=11)
    due: dict[str, str] = {}
    d.tick(due, after)
    assert rt.drained == {}
    assert due == {"t1/roomy": "maintenance mw is over: best route"}
    again: dict[str, str] = {}
    d.tick(again, after + timedelta(seconds=1))
    assert again == {}
    status = d._status(draining.windows_of(rt)[0], after)
    assert status["phase"] == "Completed" and status["cannotMove"] == []
    assert status["drained"] == [{"kind": "NetworkService", "name": "roomy", "namespace": "t1"}]


def test_a_protected_service_that_cannot_stay_disjoint_without_the_link_is_listed() -> None:
    rt = _runtime()
    _service(rt, "guarded", 20.0)
    obj = rt.services["t1/guarded"]
    obj["spec"]["protection"] = "disjoint"
    obj["status"]["backupPathLinks"] = ["r1-r2", "r2-r4"]
    d = draining.Draining(rt)
    due: dict[str, str] = {}
    d.tick(due, T0 - timedelta(seconds=30))
    assert "t1/guarded" not in due  # moving it would not take it off the link
    status = d._status(draining.windows_of(rt)[0], T0 - timedelta(seconds=30))
    reasons = {c["service"]["name"]: c["reason"] for c in status["cannotMove"]}
    assert reasons["guarded"].startswith("no route avoiding r1-r4: ")
    assert reasons["tight"].startswith("degraded: ")
