"""A device whose telemetry stream broke is unreachable at once; when a stream syncs again
it is reachable at once too (the probe writes status only on a change, so a short outage
would otherwise leave the operator believing the device gone)."""

from __future__ import annotations

from intentloop_operator.runtime import Runtime
from intentloop_operator.telemetry import restore_reachable


def test_a_synced_stream_makes_a_device_marked_unreachable_reachable_again() -> None:
    rt = Runtime()
    rt.topology.upsert_device("r2", reachable=False)
    rt.wake.clear()
    restore_reachable(rt, "r2")
    state = rt.topology.device("r2")
    assert state is not None and state.reachable
    assert rt.wake.is_set()  # services through it and alarms are looked at again


def test_a_reachable_or_unknown_device_is_left_alone() -> None:
    rt = Runtime()
    rt.topology.upsert_device("r1", reachable=True)
    rt.wake.clear()
    restore_reachable(rt, "r1")
    restore_reachable(rt, "nowhere")
    assert not rt.wake.is_set() and rt.topology.device("nowhere") is None
