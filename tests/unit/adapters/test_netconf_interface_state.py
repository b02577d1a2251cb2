"""`interface-state` notifications read as the updates a gNMI stream would have carried."""

from __future__ import annotations

import pytest

from intentloop_adapters import factory, netconf_notifications
from intentloop_adapters.netconf import NetconfAdapter
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_lab import netconf_relay

# Exactly as the lab's relay puts it on the wire (and ncclient hands it over).
FROM_RELAY = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">'
    "<eventTime>2026-11-01T10:00:00.250000Z</eventTime>"
    '<interface-state xmlns="urn:intentloop:device">'
    "<interface><name>core-r2</name><oper-status>down</oper-status>"
    "<latency-ms>23.000</latency-ms><out-rate-mbps>0.000</out-rate-mbps></interface>"
    "<interface><name>eth1</name><oper-status>up</oper-status>"
    "<latency-ms>0.000</latency-ms><out-rate-mbps>12.500</out-rate-mbps></interface>"
    "</interface-state></notification>"
)
# The same kind of message the way netconfd pretty-prints its own (prefixes, whitespace,
# a whole-second eventTime, an entry that carries only some leaves).
NETCONFD_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">
  <eventTime>2026-11-01T10:00:01Z</eventTime>
  <ild:interface-state xmlns:ild="urn:intentloop:device">
    <ild:interface>
      <ild:name>ge-0/0:1</ild:name>
      <ild:oper-status>up</ild:oper-status>
    </ild:interface>
  </ild:interface-state>
</notification>
"""
PATHS = (
    "/interfaces/interface[name=*]/state/oper-status",
    "/interfaces/interface[name=*]/state/latency-ms",
    "/interfaces/interface[name=*]/state/out-rate-mbps",
)
SECOND = 1793527200  # 2026-11-01T10:00:00Z


def test_every_leaf_of_every_entry_becomes_the_update_gnmi_would_send() -> None:
    updates = netconf_notifications.updates_from("r1", FROM_RELAY)
    assert [(u.path, u.value) for u in updates] == [
        ("/interfaces/interface[name=core-r2]/state/oper-status", "DOWN"),
        ("/interfaces/interface[name=core-r2]/state/latency-ms", 23.0),
        ("/interfaces/interface[name=core-r2]/state/out-rate-mbps", 0.0),
        ("/interfaces/interface[name=eth1]/state/oper-status", "UP"),
        ("/interfaces/interface[name=eth1]/state/latency-ms", 0.0),
        ("/interfaces/interface[name=eth1]/state/out-rate-mbps", 12.5),
    ]
    assert {u.device for u in updates} == {"r1"}
    assert not any(u.sync for u in updates)
    for update in updates:
        assert update.timestamp_ns == pytest.approx(SECOND * 10**9 + 250_000_000, abs=1000)
    assert all(isinstance(u.value, float) for u in updates if "oper-status" not in u.path)


def test_prefixed_and_partial_entries_are_read_too() -> None:
    [update] = netconf_notifications.updates_from("r1", NETCONFD_STYLE)
    assert (update.path, update.value) == (
        "/interfaces/interface[name=ge-0/0:1]/state/oper-status",
        "UP",
    )
    assert update.timestamp_ns == (SECOND + 1) * 10**9


def test_a_garbled_entry_costs_only_its_own_leaves() -> None:
    broken = (
        FROM_RELAY.replace("<oper-status>down</oper-status>", "<oper-status>dormant</oper-status>")
        .replace("<latency-ms>23.000</latency-ms>", "<latency-ms>fast</latency-ms>")
        .replace("<name>eth1</name>", "<name> </name>")
    )
    updates = netconf_notifications.updates_from("r1", broken)
    assert [(u.path, u.value) for u in updates] == [
        ("/interfaces/interface[name=core-r2]/state/out-rate-mbps", 0.0)
    ]


def test_what_the_relay_builds_reads_back_as_what_it_was_given() -> None:
    state = netconf_relay.InterfaceState(oper_up=False, latency_ms=7.125, out_rate_mbps=300.0)
    payload = netconf_relay.notification({"core-r3": state}, SECOND * 10**9)
    values = {
        u.path.rsplit("/", 1)[1]: u.value for u in netconf_notifications.updates_from("x", payload)
    }
    assert values == {"oper-status": "DOWN", "latency-ms": 7.125, "out-rate-mbps": 300.0}


@pytest.mark.parametrize(
    ("requested", "path", "expected"),
    [
        (PATHS, "/interfaces/interface[name=eth1]/state/oper-status", True),
        (PATHS, "/interfaces/interface[name=ge-0/0:1]/state/latency-ms", True),
        (PATHS, "/interfaces/interface[name=eth1]/state/in-octets", False),
        (["/interfaces/interface[name=eth2]"], "/interfaces/interface[name=eth1]/state/x", False),
        (["/interfaces/interface[name=eth1]"], "/interfaces/interface[name=eth1]/state/x", True),
        (["/interfaces/interface/state"], "/interfaces/interface[name=eth1]/state/x", True),
        (["/interfaces/*/state"], "/interfaces/interface[name=eth1]/state/x", True),
        (PATHS, "/intentloop-device:device/vlan[vlan-id=7]", False),
        (["/device"], "/intentloop-device:device/vlan[vlan-id=7]", True),
        ([], "/interfaces/interface[name=eth1]/state/x", True),
    ],
)
def test_subscribed_paths_select_the_way_gnmi_selects(
    requested: list[str], path: str, expected: bool
) -> None:
    assert netconf_notifications.wanted(path, requested) is expected


def test_a_device_with_netconf_but_no_gnmi_streams_over_netconf() -> None:
    netconf = {
        "port": 830,
        "hostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbFrsVlnYWyNNwnBSSPH4Cu",
        "credentialsSecretRef": {"name": "n1", "namespace": "ops"},
    }
    spec = DeviceSpec.model_validate({"address": "192.0.2.1", "netconf": netconf})
    adapter = factory.telemetry_adapter("n1", spec, factory.Credentials())
    assert isinstance(adapter, NetconfAdapter) and adapter.name == "n1"
    both = DeviceSpec.model_validate(
        {"address": "192.0.2.1", "netconf": netconf, "gnmi": {"port": 57400, "insecure": True}}
    )
    assert type(factory.telemetry_adapter("n1", both, factory.Credentials())).__name__ == (
        "GnmiAdapter"
    )
