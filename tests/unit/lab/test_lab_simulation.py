"""The lab's physics: link state, injected latency, load from configured services."""

from __future__ import annotations

import pytest

from intentloop_lab.simulation import (
    ConfiguredView,
    InterfaceTelemetry,
    ServiceLoad,
    Simulation,
    TelemetryPublisher,
    view_from_json_ietf,
)
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
  - {a: r2, b: r3, capacityMbps: 1000, latencyMs: 3, backgroundMbps: 50}
  - {a: r3, b: r1, capacityMbps: 500, latencyMs: 5}
"""
)


def service(interface: str, vlan: int, rate: float) -> ConfiguredView:
    return ConfiguredView(loads=(ServiceLoad(interface, vlan, rate),))


@pytest.fixture
def sim() -> Simulation:
    return Simulation(TOPOLOGY)


def by_name(sim: Simulation) -> dict[str, object]:
    return {s.name: s for s in sim.links()}


def test_a_fresh_lab_has_every_link_up_at_nominal_latency(sim: Simulation) -> None:
    values = sim.telemetry()
    assert values[("r1", "core-r2")] == InterfaceTelemetry(True, 2.0, 0.0)
    assert values[("r2", "core-r1")] == InterfaceTelemetry(True, 2.0, 0.0)
    assert values[("r3", "core-r2")].out_rate_mbps == 50  # background load
    assert values[("r1", "eth1")].oper_up


def test_a_failed_link_is_down_at_both_ends_and_nowhere_else(sim: Simulation) -> None:
    sim.set_link_admin("r2", "r1", up=False)  # either order
    values = sim.telemetry()
    assert not values[("r1", "core-r2")].oper_up
    assert not values[("r2", "core-r1")].oper_up
    assert values[("r2", "core-r3")].oper_up
    assert values[("r1", "core-r3")].oper_up
    sim.set_link_admin("r1", "r2", up=True)
    assert sim.telemetry()[("r1", "core-r2")].oper_up


def test_injected_latency_adds_to_the_nominal_latency_on_both_ends(sim: Simulation) -> None:
    sim.inject_latency("r3", "r1", 20)
    values = sim.telemetry()
    assert values[("r1", "core-r3")].latency_ms == 25
    assert values[("r3", "core-r1")].latency_ms == 25
    assert values[("r1", "core-r2")].latency_ms == 2
    sim.inject_latency("r1", "r3", 0)
    assert sim.telemetry()[("r3", "core-r1")].latency_ms == 5


def test_negative_latency_is_refused(sim: Simulation) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        sim.inject_latency("r1", "r2", -1)


def test_unknown_links_and_routers_are_refused_by_name(sim: Simulation) -> None:
    with pytest.raises(KeyError, match="no link between 'r1' and 'r9'"):
        sim.set_link_admin("r1", "r9", up=False)
    with pytest.raises(KeyError, match="no router 'r9'"):
        sim.set_running("r9", running=False)


def test_a_stopped_router_takes_its_links_down_at_the_far_ends(sim: Simulation) -> None:
    sim.set_running("r1", running=False)
    values = sim.telemetry()
    assert not values[("r2", "core-r1")].oper_up
    assert not values[("r3", "core-r1")].oper_up
    assert values[("r2", "core-r3")].oper_up
    assert not values[("r1", "eth1")].oper_up
    sim.set_running("r1", running=True)
    assert sim.telemetry()[("r2", "core-r1")].oper_up


def test_a_service_on_a_core_interface_loads_the_link_once(sim: Simulation) -> None:
    sim.set_config("r1", service("core-r2", 100, 300))
    sim.set_config("r2", service("core-r1", 100, 300))  # the same service, other end
    links = {s.name: s for s in sim.links()}
    assert links["r1-r2"].utilisation_mbps == 300
    values = sim.telemetry()
    assert values[("r1", "core-r2")].out_rate_mbps == 300
    assert values[("r2", "core-r1")].out_rate_mbps == 300
    assert links["r3-r1"].utilisation_mbps == 0


def test_services_add_up_with_the_background_load(sim: Simulation) -> None:
    view = ConfiguredView(loads=(ServiceLoad("core-r3", 10, 100), ServiceLoad("core-r3", 20, 250)))
    sim.set_config("r2", view)
    assert {s.name: s for s in sim.links()}["r2-r3"].utilisation_mbps == 400


def test_a_down_link_carries_nothing(sim: Simulation) -> None:
    sim.set_config("r1", service("core-r2", 100, 300))
    sim.set_link_admin("r1", "r2", up=False)
    assert sim.telemetry()[("r1", "core-r2")].out_rate_mbps == 0


def test_a_core_interface_disabled_in_config_takes_the_link_down(sim: Simulation) -> None:
    sim.set_config("r2", ConfiguredView(disabled_interfaces=frozenset({"core-r3"})))
    values = sim.telemetry()
    assert not values[("r3", "core-r2")].oper_up
    assert {s.name: s for s in sim.links()}["r2-r3"].admin_up  # nobody failed it on purpose


def test_customer_ports_report_the_services_configured_on_them(sim: Simulation) -> None:
    sim.set_config(
        "r1", ConfiguredView(loads=(ServiceLoad("eth1", 7, 40), ServiceLoad("eth1", 8, 2)))
    )
    assert sim.telemetry()[("r1", "eth1")].out_rate_mbps == 42
    assert sim.telemetry()[("r1", "eth2")].out_rate_mbps == 0


def test_set_config_says_whether_anything_changed(sim: Simulation) -> None:
    assert sim.set_config("r1", service("core-r2", 1, 5))
    assert not sim.set_config("r1", service("core-r2", 1, 5))


def test_services_are_read_from_a_json_ietf_device_tree() -> None:
    tree = {
        "interface": [
            {"name": "core-r2", "enabled": True},
            {"name": "core-r3", "enabled": False},
        ],
        "policer": [{"name": "gold", "rate-mbps": 300, "burst-kbytes": 1000}],
        "subinterface": [
            {"parent": "core-r2", "vlan-id": 100, "policer": "gold", "owner": ["ns/svc"]},
            {"parent": "eth1", "vlan-id": 100},  # no policer: no known rate
        ],
    }
    view = view_from_json_ietf({"intentloop-device:device": tree})
    assert view.loads == (ServiceLoad("core-r2", 100, 300.0), ServiceLoad("eth1", 100, 0.0))
    assert view.disabled_interfaces == {"core-r3"}
    assert view_from_json_ietf(tree) == view  # with or without the module prefix


def test_a_garbled_tree_is_read_as_far_as_it_makes_sense() -> None:
    tree = {
        "policer": [{"name": "p", "rate-mbps": "fast"}, "junk", {"rate-mbps": 3}],
        "subinterface": [
            {"parent": "e", "vlan-id": "nan"},
            {"vlan-id": 3},
            {"parent": "e", "vlan-id": "4", "policer": "p"},
        ],
        "interface": {"not": "a list"},
    }
    view = view_from_json_ietf(tree)
    assert view.loads == (ServiceLoad("e", 4, 0.0),)
    assert view.disabled_interfaces == frozenset()


class RecordingSink:
    """A stand-in for a gNMI target's setters (the real target is exercised in tests/adapters)."""

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


def test_the_publisher_pushes_only_what_changed(sim: Simulation) -> None:
    sinks = {name: RecordingSink() for name in ("r1", "r2", "r3")}
    publisher = TelemetryPublisher()
    assert publisher.publish(sim.telemetry(), sinks) == 12  # 6 link ends + 6 ports
    for sink in sinks.values():
        sink.calls.clear()
    assert publisher.publish(sim.telemetry(), sinks) == 0
    sim.set_link_admin("r1", "r2", up=False)
    publisher.publish(sim.telemetry(), sinks)
    assert sinks["r1"].calls == [("oper", "core-r2", False)]
    assert sinks["r2"].calls == [("oper", "core-r1", False)]
    assert sinks["r3"].calls == []


def test_a_forgotten_router_gets_everything_again(sim: Simulation) -> None:
    sinks = {"r1": RecordingSink()}
    publisher = TelemetryPublisher()
    publisher.publish(sim.telemetry(), sinks)
    sinks["r1"].calls.clear()
    publisher.forget("r1")
    publisher.publish(sim.telemetry(), sinks)
    assert {c[1] for c in sinks["r1"].calls} == {"eth1", "eth2", "core-r2", "core-r3"}
    assert sinks["r1"].calls[0][0] == "oper"  # state first: that is what a controller waits for
