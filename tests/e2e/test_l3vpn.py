"""An L3VPN proven by traffic: every site of the VPN reaches every other, no site outside it.

The operator compiles the VPN into VRFs with addresses and static routes on NETCONF
(netconfd, the intentloop model) and OpenConfig gNMI routers alike; the lab's device agent
turns each router's running configuration into routing tables in its kernel; the sites
(namespaces behind the customer ports) send real packets through their gateways. Two
tenants' VPNs use the *same* subnet on one router: VRFs keep them apart.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from itertools import combinations
from typing import Any

import kubernetes
import pytest
import yaml

from intentloop_lab import traffic
from intentloop_lab.traffic import Attachment, Endpoint
from intentloop_lab.traffic_gap import GapStream
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="traffic enters network namespaces: root"),
]

VLANS = [v for v in range(700, 1000) if v != 666]  # of the example pool, as test_traffic


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


def _vpn(ns: str, name: str, sites: dict[str, str], vlan: int) -> dict[str, Any]:
    """An l3vpn joining ROUTER/PORT → gateway address."""
    ends = []
    for port, address in sites.items():
        device, interface = port.split("/")
        ends.append({"device": device, "interface": interface, "address": address})
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "l3vpn", "endpoints": ends, "bandwidthMbps": 10, "vlan": vlan},
    }


def _ready(cluster: Cluster, operator: Operator, ns: str, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        obj: dict[str, Any] = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, ns, "networkservices", name
        )
        return obj if obj.get("status", {}).get("phase") == "Ready" else None

    found: dict[str, Any] = wait_for(
        ready,
        timeout=90,
        what=f"l3vpn {ns}/{name} Ready",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    return found


def _sites(lab: Lab, vpn: dict[str, Any]) -> list[tuple[Attachment, str]]:
    return [
        (Attachment(lab.state.site(e["device"], e["interface"]), vpn["spec"]["vlan"]), e["address"])
        for e in vpn["spec"]["endpoints"]
    ]


def _reaches(src: Endpoint, dst: Endpoint) -> bool:
    return traffic.ping(src, dst.ip, count=3, interval=0.1, timeout=0.5).reachable


def _isolated(src: Endpoint, dst: str) -> bool:
    return traffic.ping(src, dst, count=5, interval=0.1, timeout=0.5).received == 0


def _all_pairs_reach(ends: list[Endpoint]) -> bool:
    return all(_reaches(a, b) and _reaches(b, a) for a, b in combinations(ends, 2))


def test_every_site_of_an_l3vpn_reaches_every_other_and_no_site_outside_it(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    unique: Any,
    assign_ports: AssignPorts,
) -> None:
    tenant_b = unique("vpn-b")
    cluster.kubectl("create", "namespace", tenant_b)
    vlan_a, vlan_b = random.sample(VLANS, 2)
    # A: three sites over NETCONF and OpenConfig routers; B: the same subnet as A's site on
    # r1 (10.61.1.0/24), on r1's other port, and a site of its own on r4
    vpn_a = _vpn(
        namespace,
        "vpn",
        {"r1/eth2": "10.61.1.1/24", "r3/eth1": "10.61.3.1/24", "r6/eth1": "10.61.6.1/24"},
        vlan_a,
    )
    vpn_b = _vpn(tenant_b, "vpn", {"r1/eth1": "10.61.1.1/24", "r4/eth1": "10.61.4.1/24"}, vlan_b)
    try:
        with (
            traffic.attach_routed(_sites(lab, vpn_a)) as ends_a,
            traffic.attach_routed(_sites(lab, vpn_b)) as ends_b,
        ):
            assert _isolated(ends_a[0], ends_a[1].ip), "A's sites reach each other already"
            assign_ports(namespace, [("r1", "eth2"), ("r3", "eth1"), ("r6", "eth1")])
            assign_ports(tenant_b, [("r1", "eth1"), ("r4", "eth1")])
            cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([vpn_a, vpn_b]))
            ready = _ready(cluster, operator, namespace, "vpn")
            _ready(cluster, operator, tenant_b, "vpn")
            # every site of A reaches every other one, both ways
            wait_for(
                lambda: _all_pairs_reach(ends_a),
                timeout=30,
                what="A's sites reach",
                on_fail=lambda: _routing_state(lab, ready, ends_a),
            )
            wait_for(lambda: _all_pairs_reach(ends_b), timeout=30, what="B's sites reach")
            # B's r1 site has the very address of A's r1 site: each VPN's traffic stays in it
            assert ends_a[0].ip == ends_b[0].ip == "10.61.1.2"
            for theirs in ends_a[1:]:
                assert _isolated(ends_b[0], theirs.ip), f"B reached A's {theirs.ip}"
            assert _isolated(ends_a[0], ends_b[1].ip), "A reached B's r4 site"
            # a site outside both, on a router A crosses, posing as A's r6 site (its address,
            # A's VLAN, a route through A's gateway) reaches nothing
            intruder = lab.state.site("r2", "eth1")
            with traffic.impersonate(intruder, ends_a[2], vlan_a) as fake:
                route = ["route", "replace", "10.61.0.0/16", "via", "10.61.6.1"]
                subprocess.run(["ip", "-n", fake.netns, *route, "dev", fake.ifname], check=True)
                assert _isolated(fake, ends_a[0].ip), "a site outside the VPN reached it"
            # the routers hold the routes the operator compiled, in the VRF, not in main
            _routes_only_in_the_vrf(lab, ready)
            # the VPN deleted, its sites stop reaching each other; B carries on
            cluster.custom.delete_namespaced_custom_object(
                GROUP, VERSION, namespace, "networkservices", "vpn"
            )
            wait_for(lambda: _isolated(ends_a[0], ends_a[2].ip), timeout=60, what="A's VPN gone")
            assert _all_pairs_reach(ends_b)
    finally:
        _delete(cluster, tenant_b)


def _routes_only_in_the_vrf(lab: Lab, ready: dict[str, Any]) -> None:
    """No router on A's path has a customer subnet of A in its main table."""
    for device in ready["status"]["path"]:
        netns = lab.state.router(device).netns
        main = subprocess.run(
            ["ip", "-n", netns, "-j", "route", "show", "table", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        leaked = [
            r["dst"] for r in json.loads(main or "[]") if r.get("dst", "").startswith("10.61.")
        ]
        assert not leaked, f"{device}: customer subnets in the main table: {leaked}"


def _routing_state(lab: Lab, ready: dict[str, Any], ends: list[Endpoint]) -> str:
    """What the routers and sites route, for a failure message."""
    lines = [json.dumps(ready.get("status", {}), indent=None)[:3000]]
    for device in sorted({r.name for r in lab.state.routers}):
        netns = lab.state.router(device).netns
        for args in (["rule"], ["route", "show", "table", "all"], ["-br", "addr"]):
            out = subprocess.run(
                ["ip", "-n", netns, *args], capture_output=True, text=True, check=False
            ).stdout
            lines.append(f"--- {device}: ip {' '.join(args)}\n{out}")
    for end in ends:
        for args in (["route"], ["-br", "addr"]):
            out = subprocess.run(
                ["ip", "-n", end.netns, *args], capture_output=True, text=True, check=False
            ).stdout
            lines.append(f"--- site {end.netns}: ip {' '.join(args)}\n{out}")
    return "\n".join(lines)


def _delete(cluster: Cluster, namespace: str) -> None:
    try:
        cluster.custom.delete_namespaced_custom_object(
            GROUP, VERSION, namespace, "networkservices", "vpn"
        )
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_link_down_under_an_l3vpn_moves_it_and_its_sites_reach_again(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    record_property: Any,
    assign_ports: AssignPorts,
) -> None:
    vpn = _vpn(
        namespace,
        "moves",
        {"r2/eth2": "10.62.2.1/24", "r5/eth2": "10.62.5.1/24"},
        random.choice(VLANS),
    )
    assign_ports(namespace, [("r2", "eth2"), ("r5", "eth2")])
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(vpn))
    links = _ready(cluster, operator, namespace, "moves")["status"]["pathLinks"]
    failed = next(x for x in lab.state.links if x.name == links[0])

    def moved() -> bool:
        obj = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "networkservices", "moves"
        )
        status = obj.get("status", {})
        return status.get("phase") == "Ready" and failed.name not in status.get("pathLinks", [])

    with traffic.attach_routed(_sites(lab, vpn)) as (a, b):
        wait_for(lambda: _reaches(a, b), timeout=30, what="the VPN carries")
        stream = GapStream(a, b, pps=1000, max_seconds=120)
        stream.start()
        try:
            lab.link(failed.a, failed.b, up=False)
            try:
                wait_for(
                    moved,
                    timeout=60,
                    what=f"re-path off {failed.name}",
                    on_fail=lambda: operator.log.read_text()[-3000:],
                )
                wait_for(lambda: _reaches(a, b), timeout=30, what="traffic on the new routes")
                result = stream.stop()
            finally:
                lab.link(failed.a, failed.b, up=True)
        finally:
            stream.__exit__(None, None, None)
    record_property("traffic_gap_ms", round(result.gap_ms))
    print(f"\nl3vpn, link {failed.name} down: {result.summary()}")
    assert result.gap_lost > 0, "a link of the VPN failed, yet no packet was lost"
    assert result.restored, result.summary()
