"""A device its telemetry stream took down comes back when the stream does, or when the
probe says so — never stays down in the topology (with its alarm active) while its status
says reachable."""

from __future__ import annotations

from typing import Any

from intentloop_operator.runtime import Runtime

SPEC = {"address": "127.0.0.1", "platform": "lab", "gnmi": {"port": 1, "insecure": True}}


def _runtime() -> Runtime:
    rt = Runtime()
    rt.upsert_device("r2", SPEC, {"reachable": True})
    return rt


def _reachable(rt: Runtime) -> Any:
    state = rt.topology.device("r2")
    assert state is not None
    return state.reachable


def test_a_device_back_before_any_probe_missed_is_restored_by_its_stream() -> None:
    rt = _runtime()
    rt.stream_lost("r2")
    assert _reachable(rt) is False
    rt.upsert_device("r2", SPEC, {"reachable": True, "inSync": True})  # unrelated write
    assert _reachable(rt) is False  # the stream is still broken
    rt.stream_heard("r2")
    assert _reachable(rt) is True


def test_a_device_the_probe_declared_unreachable_waits_for_the_probe() -> None:
    rt = _runtime()
    rt.stream_lost("r2")
    rt.upsert_device("r2", SPEC, {"reachable": False})
    rt.stream_heard("r2")  # telemetry flows, but the probe's last word is "unreachable"
    assert _reachable(rt) is False
    rt.upsert_device("r2", SPEC, {"reachable": True})  # the probe: back
    assert _reachable(rt) is True


def test_the_probe_brings_back_a_device_whose_stream_stays_broken() -> None:
    rt = _runtime()
    rt.stream_lost("r2")
    rt.upsert_device("r2", SPEC, {"reachable": False})
    rt.upsert_device("r2", SPEC, {"reachable": True})
    assert _reachable(rt) is True and "r2" not in rt.stream_down
