"""The data plane's pure parts: where things live in the kernel, and what a config becomes.

The kernel side is exercised for real in tests/adapters/test_dataplane.py; here the layout
and the reconciliation are checked line by line, fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intentloop_intents.device import (
    DeviceConfigTree,
    Interface,
    Policer,
    StaticRoute,
    SubInterface,
    Vrf,
)
from intentloop_lab import agent, dataplane, labstate, lifecycle, netplan, sites
from intentloop_lab.topology import parse_topology

TOPOLOGY = parse_topology(
    """
name: t
routers:
  - {name: r1, platform: netconf, ports: [eth1, "ge-0/0/1"]}
  - {name: a-router-with-a-long-name, platform: gnmi, ports: [eth1]}
links:
  - {a: r1, b: a-router-with-a-long-name, capacityMbps: 100, latencyMs: 1}
"""
)
LONG = "a-router-with-a-long-name"


@pytest.fixture
def plan() -> netplan.LabPlan:
    return netplan.plan_lab(TOPOLOGY, "abc123")


def test_every_namespace_carries_the_labs_prefix(plan: netplan.LabPlan) -> None:
    assert plan.prefix == "il-abc123-"
    assert plan.routers == {"r1": "il-abc123-r1", LONG: f"il-abc123-{LONG}"}
    assert [s.site_end.netns for s in plan.sites] == [
        "il-abc123-r1.eth1",
        "il-abc123-r1.ge-0_0_1",  # '/' cannot be in a namespace name
        f"il-abc123-{LONG}.eth1",
    ]
    assert all(name.startswith(plan.prefix) for name in plan.namespaces())


def test_interface_names_linux_refuses_get_a_short_name_and_keep_the_model_name(
    plan: netplan.LabPlan,
) -> None:
    r1 = plan.ports_of("r1")
    assert r1["eth1"].kernel == "eth1"
    assert r1["ge-0/0/1"].kernel.startswith("if")  # '/' is not allowed in an ifname
    assert r1[f"core-{LONG}"].kernel.startswith("if")  # longer than 15 bytes
    assert r1[f"core-{LONG}"].model == f"core-{LONG}"
    assert all(len(p.kernel) <= netplan.IFNAMSIZ for p in r1.values())
    assert len({p.kernel for p in r1.values()}) == len(r1)


def test_each_wire_is_a_31_and_every_port_has_its_own_attachment(plan: netplan.LabPlan) -> None:
    link = plan.links[0]
    assert (link.a.address, link.b.address) == ("100.64.0.0", "100.64.0.1")
    assert (link.a.peer_address, link.b.peer_address) == ("100.64.0.1", "100.64.0.0")
    site = plan.sites[1]
    assert site.router_end.peer_address == site.site_end.address
    attachments = [link.a.attachment] + [s.router_end.attachment for s in plan.sites]
    assert len(set(attachments)) == len(attachments)
    assert netplan.vni(link.a.attachment, 100) != netplan.vni(site.router_end.attachment, 100)


def test_a_lab_too_big_for_the_numbering_is_refused() -> None:
    routers = [{"name": f"r{i}", "platform": "gnmi", "ports": []} for i in range(65)]
    links = [
        {"a": f"r{i}", "b": f"r{j}", "capacityMbps": 1, "latencyMs": 1}
        for i in range(65)
        for j in range(i + 1, 65)
    ]
    big = parse_topology(str({"name": "big", "routers": routers, "links": links}))
    with pytest.raises(ValueError, match="at most 2047 links"):
        netplan.plan_lab(big, "abc123")


def router_agent(plan: netplan.LabPlan) -> agent.DeviceAgent:
    return agent.DeviceAgent(plan.routers["r1"], plan.ports_of("r1"))


def test_sub_interfaces_sharing_a_vlan_are_one_cross_connect(plan: netplan.LabPlan) -> None:
    tree = DeviceConfigTree(
        vrfs=(Vrf(name="blue"),),
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=100),
            SubInterface(parent=f"core-{LONG}", vlan_id=100),
            SubInterface(parent="ge-0/0/1", vlan_id=200, vrf="blue"),
        ),
    )
    config = router_agent(plan).kernel_config(tree, frozenset())
    bridges = {sub.device: sub.bridge for sub in config.subs.values()}
    assert bridges["eth1.100"] == "br100"
    assert [b for d, b in bridges.items() if d.endswith(".100")] == ["br100", "br100"]
    in_vrf = next(s for s in config.subs.values() if s.vni % 4096 == 200)
    assert (in_vrf.bridge, in_vrf.table) == (None, agent.VRF_TABLE_BASE)
    assert config.bridges == {"br100"}


def test_only_the_difference_is_applied(plan: netplan.LabPlan) -> None:
    dev = router_agent(plan)
    one = DeviceConfigTree(subinterfaces=(SubInterface(parent="eth1", vlan_id=100),))
    two = DeviceConfigTree(
        subinterfaces=(*one.subinterfaces, SubInterface(parent="eth1", vlan_id=101))
    )
    before = dev.kernel_config(one, frozenset())
    after = dev.kernel_config(two, frozenset())
    lines = agent._link_lines(before, after)
    assert lines[0] == "link add br101 type bridge"
    assert not any("eth1.100" in line for line in lines)
    assert agent._link_lines(after, after) == []
    eth1 = plan.ports_of("r1")["eth1"]
    create = next(line for line in lines if line.startswith("link add eth1.101"))
    assert f"id {netplan.vni(eth1.attachment, 101)} " in create
    assert f"local {eth1.address} remote {eth1.peer_address} dev eth1 " in create
    removed = agent._link_lines(after, before)
    assert removed == ["link del dev eth1.101", "link del dev br101"]


def test_disabled_ports_and_faults_lower_the_port(plan: netplan.LabPlan) -> None:
    dev = router_agent(plan)
    tree = DeviceConfigTree(interfaces=(Interface(name="eth1", enabled=False),))
    config = dev.kernel_config(tree, frozenset({f"core-{LONG}"}))
    kernel = plan.ports_of("r1")[f"core-{LONG}"].kernel
    assert config.ports_up == {"eth1": False, "if1": True, kernel: False}


def test_a_policer_is_a_bucket_on_what_enters_each_sub_interface_using_it(
    plan: netplan.LabPlan,
) -> None:
    dev = router_agent(plan)
    sub = SubInterface(parent="eth1", vlan_id=100, policer="gold")
    tree = DeviceConfigTree(
        policers=(Policer(name="gold", rate_mbps=80, burst_kbytes=64),),
        subinterfaces=(sub, SubInterface(parent="eth1", vlan_id=101, policer="gold")),
    )
    empty = dev.kernel_config(DeviceConfigTree(), frozenset())
    policed = dev.kernel_config(tree, frozenset())
    ip, tc = agent._police_lines(empty, policed)
    ifb = agent.ifb_name(policed.subs["eth1.100"])
    assert f"link add {ifb} type ifb" in ip
    assert (
        f"filter add dev eth1.100 parent ffff: protocol all u32 match u32 0 0 "
        f"action mirred egress redirect dev {ifb}" in tc
    )
    assert f"qdisc add dev {ifb} root tbf rate 80mbit burst 64000 limit 3100" in tc
    assert len([line for line in tc if "tbf" in line]) == 2  # one bucket per sub-interface
    faster = dev.kernel_config(
        tree.model_copy(update={"policers": (Policer(name="gold", rate_mbps=90),)}), frozenset()
    )
    assert agent._police_lines(policed, faster)[1] == [
        f"qdisc replace dev {ifb} root tbf rate 90mbit burst 1000000 limit 3100",
        f"qdisc replace dev {agent.ifb_name(policed.subs['eth1.101'])} root tbf rate 90mbit "
        "burst 1000000 limit 3100",
    ]
    ip, tc = agent._police_lines(policed, empty)
    assert f"link del dev {ifb}" in ip and tc == []  # the sub-interfaces go, with their filters


def test_a_site_vlan_interface_meets_the_routers_sub_interface(plan: netplan.LabPlan) -> None:
    end = plan.sites[0]
    site = labstate.SiteInfo(
        device="r1",
        port="eth1",
        netns=end.site_end.netns,
        interface=end.site_end.kernel,
        address=end.site_end.address,
        router_address=end.router_end.address,
        attachment=end.router_end.attachment,
    )
    create = sites.vlan_commands(site, 100)[0]
    router_side = router_agent(plan).kernel_config(
        DeviceConfigTree(subinterfaces=(SubInterface(parent="eth1", vlan_id=100),)), frozenset()
    )
    sub = router_side.subs["eth1.100"]
    assert f"id {sub.vni} local {sub.remote} remote {sub.local} dev port0 " in create
    # the site keeps its MAC across re-creations (a provider edge caches it), one per VLAN
    mac = sites.vlan_mac(site, 100)
    assert f"address {mac} " in create and sites.vlan_commands(site, 100)[0] == create
    assert sites.vlan_mac(site, 101) != mac and int(mac[:2], 16) & 0b11 == 0b10
    with pytest.raises(ValueError, match="not a VLAN id"):
        sites.vlan_commands(site, 4095)


def test_without_root_lab_up_fails_at_once_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dataplane.os, "geteuid", lambda: 1000)
    with pytest.raises(lifecycle.LabStartError) as refused:
        lifecycle.start(tmp_path / "state", None)
    message = str(refused.value)
    assert "\n" not in message and "root" in message and "network namespaces" in message
    assert not (tmp_path / "state").exists()  # nothing was started or written


def test_a_vrf_is_a_table_with_its_addresses_connected_routes_and_an_unreachable_end(
    plan: netplan.LabPlan,
) -> None:
    dev = router_agent(plan)
    core = f"core-{LONG}"
    routed = DeviceConfigTree(
        vrfs=(
            Vrf(
                name="blue",
                static_routes=(StaticRoute(prefix="10.3.0.0/24", next_hop="169.254.0.1"),),
            ),
        ),
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=10, vrf="blue", ipv4="10.1.0.1/24"),
            SubInterface(parent=core, vlan_id=7, vrf="blue", ipv4="169.254.0.0/31"),
        ),
    )
    empty = dev.kernel_config(DeviceConfigTree(), frozenset())
    config = dev.kernel_config(routed, frozenset())
    transit = next(s.device for s in config.subs.values() if s.parent != "eth1")
    lines = agent._link_lines(empty, config)
    table = agent.VRF_TABLE_BASE
    # the address never puts the customer's subnet in the main table
    assert "addr add 10.1.0.1/24 dev eth1.10 noprefixroute" in lines
    assert f"rule add iif eth1.10 lookup {table}" in lines
    routes = [line for line in lines if line.startswith("route ")]
    assert routes == [
        f"route add 10.1.0.0/24 dev eth1.10 table {table}",
        f"route add 169.254.0.0/31 dev {transit} table {table}",
        f"route add unreachable default table {table}",
        f"route add 10.3.0.0/24 via 169.254.0.1 dev {transit} table {table}",  # after its link
    ]
    assert lines.index(routes[0]) > max(i for i, x in enumerate(lines) if x.startswith("link"))
    # a route changed alone is replaced alone
    moved = routed.model_copy(
        update={
            "vrfs": (
                Vrf(
                    name="blue",
                    static_routes=(StaticRoute(prefix="10.3.0.0/16", next_hop="169.254.0.1"),),
                ),
            )
        }
    )
    assert agent._link_lines(config, dev.kernel_config(moved, frozenset())) == [
        f"route del 10.3.0.0/24 via 169.254.0.1 dev {transit} table {table}",
        f"route add 10.3.0.0/16 via 169.254.0.1 dev {transit} table {table}",
    ]
    # removing everything: the table's end first; routes through a device go with it
    gone = agent._link_lines(config, empty)
    assert gone[0] == f"route del unreachable default table {table}"
    assert not any(line.startswith("route") for line in gone[1:])
    assert {"link del dev eth1.10", f"link del dev {transit}"} <= set(gone)


def test_a_readdressed_sub_interface_gets_its_routes_back(plan: netplan.LabPlan) -> None:
    dev = router_agent(plan)

    def tree(address: str) -> DeviceConfigTree:
        return DeviceConfigTree(
            vrfs=(
                Vrf(
                    name="v",
                    static_routes=(StaticRoute(prefix="10.9.0.0/24", next_hop="10.1.0.9"),),
                ),
            ),
            subinterfaces=(SubInterface(parent="eth1", vlan_id=10, vrf="v", ipv4=address),),
        )

    before = dev.kernel_config(tree("10.1.0.1/24"), frozenset())
    after = dev.kernel_config(tree("10.1.0.2/24"), frozenset())
    lines = agent._link_lines(before, after)
    # the sub-interface is made again, and every route through it with it
    assert lines[0] == "link del dev eth1.10"
    assert "addr add 10.1.0.2/24 dev eth1.10 noprefixroute" in lines
    assert lines[-2:] == [
        f"route add 10.1.0.0/24 dev eth1.10 table {agent.VRF_TABLE_BASE}",
        f"route add 10.9.0.0/24 via 10.1.0.9 dev eth1.10 table {agent.VRF_TABLE_BASE}",
    ]
