"""The lab's fault bookkeeping and telemetry publisher (the physics is the kernel's now)."""

from __future__ import annotations

import pytest

from intentloop_lab.simulation import Faults, InterfaceTelemetry, TelemetryPublisher
from intentloop_lab.topology import parse_topology

TOPOLOGY = parse_topology(
    """
name: tri
routers:
  - {name: r1, platform: netconf}
  - {name: r2, platform: gnmi}
  - {name: r3, platform: gnmi}
links:
  - {a: r1, b: r2, capacityMbps: 1000, latencyMs: 2}
  - {a: r2, b: r3, capacityMbps: 1000, latencyMs: 3}
  - {a: r3, b: r1, capacityMbps: 500, latencyMs: 5}
"""
)


@pytest.fixture
def faults() -> Faults:
    return Faults(TOPOLOGY)


def test_a_fresh_lab_holds_nothing_down_and_every_link_has_its_nominal_delay(
    faults: Faults,
) -> None:
    assert all(faults.held_down(r.name) == frozenset() for r in TOPOLOGY.routers)
    assert [faults.delay_ms(link) for link in TOPOLOGY.links] == [2, 3, 5]


def test_a_failed_link_lowers_its_a_end_only_so_the_b_end_loses_carrier(faults: Faults) -> None:
    faults.set_link_admin("r2", "r1", up=False)  # either order names the same link
    assert faults.held_down("r1") == {"core-r2"}
    assert faults.held_down("r2") == frozenset()
    assert not faults.admin_up(TOPOLOGY.link("r1", "r2"))
    faults.set_link_admin("r1", "r2", up=True)
    assert faults.held_down("r1") == frozenset()


def test_a_stopped_router_lowers_every_port_it_has(faults: Faults) -> None:
    faults.set_running("r3", running=False)
    assert faults.held_down("r3") == {"eth1", "eth2", "core-r2", "core-r1"}
    assert faults.held_down("r1") == frozenset()


def test_injected_latency_adds_to_the_nominal_delay(faults: Faults) -> None:
    link = faults.inject_latency("r3", "r2", 40)
    assert (faults.delay_ms(link), faults.injected_ms(link)) == (43, 40)
    faults.inject_latency("r2", "r3", 0)
    assert faults.delay_ms(link) == 3


def test_negative_latency_and_unknown_names_are_refused(faults: Faults) -> None:
    with pytest.raises(ValueError, match=">= 0 ms"):
        faults.inject_latency("r1", "r2", -1)
    with pytest.raises(KeyError, match="no link between 'r1' and 'r9'"):
        faults.set_link_admin("r1", "r9", up=False)
    with pytest.raises(KeyError, match="no router 'r9'"):
        faults.set_running("r9", running=False)


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object]] = []

    def set_oper_status(self, interface: str, up: bool) -> None:
        self.calls.append(("oper", interface, up))

    def set_latency(self, interface: str, ms: float) -> None:
        self.calls.append(("latency", interface, ms))

    def set_out_rate(self, interface: str, mbps: float) -> None:
        self.calls.append(("out", interface, mbps))

    def set_in_rate(self, interface: str, mbps: float) -> None:
        self.calls.append(("in", interface, mbps))

    def set_counters(self, interface: str, in_octets: int, out_octets: int) -> None:
        self.calls.append(("octets", interface, (in_octets, out_octets)))


UP = InterfaceTelemetry(oper_up=True, latency_ms=2.0, out_rate_mbps=0.0)


def test_the_publisher_pushes_only_what_changed() -> None:
    sinks = {"r1": RecordingSink(), "r2": RecordingSink()}
    values = {("r1", "core-r2"): UP, ("r2", "core-r1"): UP, ("r1", "eth1"): UP}
    publisher = TelemetryPublisher()
    assert publisher.publish(values, sinks) == 3
    sinks["r1"].calls.clear()
    assert publisher.publish(values, sinks) == 0
    values[("r1", "core-r2")] = InterfaceTelemetry(False, 2.0, 0.0, 3.5, in_octets=900)
    publisher.publish(values, sinks)
    assert sinks["r1"].calls == [
        ("oper", "core-r2", False),
        ("in", "core-r2", 3.5),
        ("octets", "core-r2", (900, 0)),
    ]


def test_a_forgotten_router_gets_everything_again_state_first() -> None:
    sinks = {"r1": RecordingSink()}
    values = {("r1", "core-r2"): UP, ("r1", "eth1"): UP, ("r9", "eth1"): UP}
    publisher = TelemetryPublisher()
    publisher.publish(values, sinks)
    sinks["r1"].calls.clear()
    publisher.forget("r1")
    publisher.publish(values, sinks)
    assert {c[1] for c in sinks["r1"].calls} == {"eth1", "core-r2"}
    assert sinks["r1"].calls[0][0] == "oper"  # state first: that is what a controller waits for
