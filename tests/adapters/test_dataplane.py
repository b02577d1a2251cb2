"""The lab's data plane, for real: namespaces, veths, carrier, probes, and forwarding.

A line of three routers (NETCONF — gNMI — NETCONF) comes up through the CLI. Config goes in
over the routers' real protocols (NETCONF to netconfd, gNMI Set to the target) and is
proven in the kernel: customer sites reach each other over a service and stop reaching each
other without it; faults are interface events both ends see.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from ncclient.operations import RPCError

from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface
from intentloop_intents.device import xml as device_xml
from intentloop_lab import labstate, netplan, sites
from tests.adapters.test_lab import (
    CONFIG_PATH,
    Gnmi,
    bring_up,
    lab_cli,
    netconf,
    netconf_apply,
    wait_for,
)

pytestmark = pytest.mark.lab

LINE = """
name: line
routers:
  - {name: a, platform: netconf, ports: [eth1, eth2]}
  - {name: b, platform: gnmi, ports: [eth1], model: intentloop}
  - {name: c, platform: netconf, ports: [eth1]}
links:
  - {a: a, b: b, capacityMbps: 1000, latencyMs: 2}
  - {a: b, b: c, capacityMbps: 1000, latencyMs: 3}
"""
VLAN = 100
OPER = "/interfaces/interface[name={}]/state/oper-status"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labstate.LabState]:
    state = bring_up(tmp_path_factory.mktemp("dataplane"), LINE)
    yield state
    lab_cli(state.state_dir, "down")


@pytest.fixture
def gnmi(lab: labstate.LabState) -> Iterator[Callable[[str], Gnmi]]:
    clients: list[Gnmi] = []

    def connect(name: str) -> Gnmi:
        clients.append(Gnmi(lab.router(name)))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()


def ip(netns: str, *args: str) -> str:
    done = subprocess.run(["ip", "-n", netns, *args], capture_output=True, text=True, check=True)
    return done.stdout


def link(netns: str, name: str) -> dict[str, object]:
    found: list[dict[str, object]] = json.loads(ip(netns, "-j", "link", "show", "dev", name))
    return found[0]


def link_stats(netns: str, name: str) -> dict[str, dict[str, int]]:
    found = json.loads(ip(netns, "-j", "-s", "link", "show", "dev", name))
    return {"tx": found[0]["stats64"]["tx"], "rx": found[0]["stats64"]["rx"]}


def ping(netns: str, address: str, count: int = 1) -> bool:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "ping", "-c", str(count), "-W", "1", "-i", "0.2", address],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def site_address(
    lab: labstate.LabState, device: str, address: str, vlan: int = VLAN, port: str = "eth1"
) -> str:
    """Give the site behind device/port a VLAN interface with `address`; returns its netns."""
    site = lab.site(device, port)
    name = sites.vlan_interface_name(site, vlan)
    if name not in ip(site.netns, "-o", "link"):
        sites.add_vlan_interface(site, vlan)
        ip(site.netns, "address", "add", f"{address}/24", "dev", name)
    return site.netns


def l2_service(
    *, transit: bool = True
) -> tuple[DeviceConfigTree, dict[str, list[dict[str, object]]]]:
    """VLAN 100 from a/eth1 through b to c/eth1 (edge trees are symmetric)."""
    a = DeviceConfigTree(
        policers=(Policer(name="svc", rate_mbps=50),),
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=VLAN, policer="svc"),
            SubInterface(parent="core-b", vlan_id=VLAN),
        ),
    )
    b: dict[str, list[dict[str, object]]] = {
        "subinterface": [{"parent": "core-a", "vlan-id": VLAN}]
    }
    if transit:
        b["subinterface"].append({"parent": "core-c", "vlan-id": VLAN})
    return a, b


def c_edge() -> DeviceConfigTree:
    return DeviceConfigTree(
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=VLAN),
            SubInterface(parent="core-b", vlan_id=VLAN),
        )
    )


# --- the tests --------------------------------------------------------------------------
def test_every_router_and_site_is_a_namespace_wired_by_veths(lab: labstate.LabState) -> None:
    prefix = netplan.netns_prefix(lab.lab_id)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    ours = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith(prefix)}
    assert ours == {r.netns for r in lab.routers} | {s.netns for s in lab.sites}
    assert len(lab.sites) == 4  # a/eth1, a/eth2, b/eth1, c/eth1
    core = link(lab.router("b").netns, "core-a")
    assert core["link_type"] == "ether" and core["ifalias"] == "core-a"
    assert core["operstate"] == "UP"
    site = lab.site("c", "eth1")
    assert link(site.netns, site.interface)["operstate"] == "UP"
    assert ping(site.netns, site.router_address)  # the port's wire carries


def test_a_failed_link_is_carrier_loss_at_both_ends_and_down_in_telemetry(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    a_ns, b_ns = lab.router("a").netns, lab.router("b").netns
    try:
        assert lab_cli(lab.state_dir, "link", "down", "a", "b").returncode == 0
        assert link(a_ns, "core-b")["operstate"] == "DOWN"
        assert "NO-CARRIER" in link(b_ns, "core-a")["flags"]  # type: ignore[operator]
        assert wait_for(lambda: gnmi("b").get(OPER.format("core-a")) == "DOWN")
        assert wait_for(lambda: gnmi("a").get(OPER.format("core-b")) == "DOWN")
        assert gnmi("b").get(OPER.format("core-c")) == "UP"
    finally:
        assert lab_cli(lab.state_dir, "link", "up", "a", "b").returncode == 0
    assert link(b_ns, "core-a")["operstate"] == "UP"
    assert wait_for(lambda: gnmi("b").get(OPER.format("core-a")) == "UP")


def test_a_stopped_router_stops_forwarding_its_neighbours_lose_carrier(
    lab: labstate.LabState,
) -> None:
    c_ns = lab.router("c").netns
    try:
        assert lab_cli(lab.state_dir, "device", "stop", "b").returncode == 0
        assert "NO-CARRIER" in link(c_ns, "core-b")["flags"]  # type: ignore[operator]
        assert link(lab.site("b", "eth1").netns, "port0")["operstate"] != "UP"
    finally:
        assert lab_cli(lab.state_dir, "device", "start", "b").returncode == 0
    assert link(c_ns, "core-b")["operstate"] == "UP"


def test_injected_delay_is_what_the_probes_measure(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    path = "/interfaces/interface[name=core-c]/state/latency-ms"
    try:
        assert lab_cli(lab.state_dir, "link", "latency", "b", "c", "15").returncode == 0
        assert wait_for(lambda: abs(gnmi("b").get(path) - 18.0) < 0.5)
        row = next(
            r for r in json.loads(lab_cli(lab.state_dir, "status", "--json").stdout)["links"]
        )
        if row["delay"] == "netem":  # the wire itself is slow: a ping sees both directions
            rtt = _ping_rtt_ms(lab.router("b").netns, "100.64.0.3")
            assert rtt >= 2 * 18.0
    finally:
        lab_cli(lab.state_dir, "link", "latency", "b", "c", "0")
    assert wait_for(lambda: abs(gnmi("b").get(path) - 3.0) < 0.5)


def _ping_rtt_ms(netns: str, address: str) -> float:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, "ping", "-c", "3", "-i", "0.2", address],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"= [\d.]+/([\d.]+)/", done.stdout)
    assert match is not None, done.stdout
    return float(match.group(1))


def test_an_l2_service_makes_its_sites_reach_each_other_and_removing_it_breaks_that(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    west = site_address(lab, "a", "10.77.0.1")
    site_address(lab, "c", "10.77.0.2")
    assert not ping(west, "10.77.0.2")  # nothing configured: nothing forwards
    a_tree, b_body = l2_service()
    b = gnmi("b")
    try:
        netconf_apply(lab.router("a"), a_tree)
        netconf_apply(lab.router("c"), c_edge())
        b.set(update=b_body)
        assert wait_for(lambda: ping(west, "10.77.0.2"))
        # The policer is a real one: what enters the sub-interface goes through its bucket.
        a_ns = lab.router("a").netns
        filters = subprocess.run(
            ["tc", "-n", a_ns, "filter", "show", "dev", "eth1.100", "ingress"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ifb = re.search(r"Redirect to device (\S+)\)", filters)
        assert ifb is not None, filters
        bucket = subprocess.run(
            ["tc", "-n", a_ns, "qdisc", "show", "dev", ifb.group(1)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "tbf" in bucket and "rate 50Mbit" in bucket
        _, broken = l2_service(transit=False)  # the transit router drops its half
        b.set(replace=broken)
        assert wait_for(lambda: not ping(west, "10.77.0.2"))
    finally:
        b.set(replace={})
        netconf_apply(lab.router("a"), DeviceConfigTree())
        netconf_apply(lab.router("c"), DeviceConfigTree())
    assert wait_for(lambda: "eth1.100" not in ip(lab.router("a").netns, "-o", "link"))


def test_customer_vlans_differ_at_the_ends_and_each_link_has_its_own_tag(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    """a/eth2 VLAN 100 -(tag 37)- b -(tag 4000)- c/eth1 VLAN 2000: the routers translate."""
    west = site_address(lab, "a", "10.78.0.1", vlan=100, port="eth2")
    site_address(lab, "c", "10.78.0.2", vlan=2000)
    xc = "svc-t.x"
    a_tree = DeviceConfigTree(
        subinterfaces=(
            SubInterface(parent="eth2", vlan_id=100, l2_instance=xc),
            SubInterface(parent="core-b", vlan_id=37, l2_instance=xc),
        )
    )
    c_tree = DeviceConfigTree(
        subinterfaces=(
            SubInterface(parent="core-b", vlan_id=4000, l2_instance=xc),
            SubInterface(parent="eth1", vlan_id=2000, l2_instance=xc),
        )
    )
    apart = {
        "subinterface": [{"parent": "core-a", "vlan-id": 37}, {"parent": "core-c", "vlan-id": 4000}]
    }
    joined = {"subinterface": [{**sub, "l2-instance": xc} for sub in apart["subinterface"]]}
    b = gnmi("b")
    try:
        netconf_apply(lab.router("a"), a_tree)
        netconf_apply(lab.router("c"), c_tree)
        b.set(update=apart)  # two tags on b, in no common instance: nothing crosses b
        assert not ping(west, "10.78.0.2", count=2)
        b.set(replace=joined)
        assert wait_for(lambda: ping(west, "10.78.0.2"))
        bridge = link(lab.router("b").netns, "core-a.37")
        assert bridge.get("master")
        assert bridge.get("master") == link(lab.router("b").netns, "core-c.4000").get("master")
    finally:
        b.set(replace={})
        netconf_apply(lab.router("a"), DeviceConfigTree())
        netconf_apply(lab.router("c"), DeviceConfigTree())
    assert wait_for(lambda: "core-b.37" not in ip(lab.router("a").netns, "-o", "link"))


def test_traffic_over_a_service_shows_in_the_link_counters(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    west = site_address(lab, "a", "10.77.0.1")
    site_address(lab, "c", "10.77.0.2")
    a_tree, b_body = l2_service()
    rate = "/interfaces/interface[name=core-b]/state/out-rate-mbps"
    try:
        netconf_apply(lab.router("a"), a_tree)
        netconf_apply(lab.router("c"), c_edge())
        gnmi("b").set(update=b_body)
        assert wait_for(lambda: ping(west, "10.77.0.2"))
        flood = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                west,
                "ping",
                "-q",
                "-i",
                "0.002",
                "-s",
                "1400",
                "-w",
                "8",
                "10.77.0.2",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            assert wait_for(lambda: gnmi("a").get(rate) > 1.0)  # ~5 Mbps of 1400-byte pings
            assert wait_for(lambda: gnmi("c").get(rate) > 1.0)  # the replies, the other way
            sent = link_stats(lab.router("a").netns, "core-b")["tx"]["bytes"]
            octets = "/interfaces/interface[name=core-b]/state/counters/out-octets"
            assert wait_for(lambda: int(gnmi("a").get(octets)) >= sent)  # the kernel's count
        finally:
            flood.kill()
            flood.wait()
    finally:
        gnmi("b").set(replace={})
        netconf_apply(lab.router("a"), DeviceConfigTree())
        netconf_apply(lab.router("c"), DeviceConfigTree())


def test_a_config_the_kernel_refuses_fails_the_gnmi_set_and_changes_nothing(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    b = gnmi("b")
    before = b.get(CONFIG_PATH)
    wanted = {
        "subinterface": [
            {"parent": "core-a", "vlan-id": 300},
            {"parent": "eth9", "vlan-id": 300},  # b has no eth9
        ]
    }
    with pytest.raises(grpc.RpcError) as refused:
        b.set(update=wanted)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "eth9" in (refused.value.details() or "")
    assert b.get(CONFIG_PATH) == before
    assert "core-a.300" not in ip(lab.router("b").netns, "-o", "link")  # rolled back


def test_a_config_the_kernel_refuses_fails_the_netconf_commit_and_changes_nothing(
    lab: labstate.LabState,
) -> None:
    """netconfd takes any interface name; the router's kernel has no eth9: the relay has the
    kernel try the candidate before the commit, and the commit fails with its reason."""
    a = lab.router("a")
    good = SubInterface(parent="eth2", vlan_id=301)
    wanted = DeviceConfigTree(subinterfaces=(good, SubInterface(parent="eth9", vlan_id=301)))
    running = {"source": "running", "filter": ("subtree", device_xml.subtree_filter())}
    try:
        with netconf(a) as session:
            before = device_xml.parse_config(session.get_config(**running).data_xml)
            edit = device_xml.minimal_edit(before, wanted)
            assert edit is not None
            session.edit_config(target="candidate", config=edit)
            with pytest.raises(RPCError) as refused:
                session.commit(confirmed=True, timeout="60")
            assert "data plane refused it" in str(refused.value), refused.value
            assert "eth9" in str(refused.value), refused.value
            session.discard_changes()
            assert device_xml.parse_config(session.get_config(**running).data_xml) == before
        links = ip(a.netns, "-o", "link")
        assert "eth2.301" not in links and "eth9" not in links  # the kernel put back
        # the same session machinery commits a good config, and the kernel has it at once
        netconf_apply(a, DeviceConfigTree(subinterfaces=(good,)))
        assert "eth2.301" in ip(a.netns, "-o", "link")
    finally:
        netconf_apply(a, DeviceConfigTree())
    assert wait_for(lambda: "eth2.301" not in ip(a.netns, "-o", "link"))


def test_a_disabled_port_is_down_in_the_kernel(lab: labstate.LabState) -> None:
    a_ns = lab.router("a").netns
    try:
        netconf_apply(
            lab.router("a"), DeviceConfigTree(interfaces=(Interface(name="eth2", enabled=False),))
        )
        assert wait_for(lambda: link(a_ns, "eth2")["operstate"] == "DOWN")
    finally:
        netconf_apply(lab.router("a"), DeviceConfigTree())
    assert wait_for(lambda: link(a_ns, "eth2")["operstate"] == "UP")


def test_lab_down_removes_every_namespace_even_after_the_daemon_was_killed(
    tmp_path: Path,
) -> None:
    state = bring_up(tmp_path, LINE.replace("name: line", "name: killed"))
    prefix = netplan.netns_prefix(state.lab_id)
    os.kill(state.daemon_pid, signal.SIGKILL)
    assert wait_for(lambda: not labstate.pid_alive(state.daemon_pid))
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert prefix in listed.stdout  # left behind by the crash, until `down`
    assert lab_cli(state.state_dir, "down").returncode == 0
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert prefix not in listed.stdout
