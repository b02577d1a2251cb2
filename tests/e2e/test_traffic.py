"""Every service proven by traffic between its customer sites, through the real data plane.

The operator configures the lab's routers; the lab's device agent applies their running
configuration to the routers' kernels; the sites (namespaces behind the customer ports)
send real packets. Nothing here reads the routers' configuration: only what arrives.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from intentloop_lab import traffic
from intentloop_lab.traffic import Attachment, Endpoint
from intentloop_lab.traffic_cli import attachments
from intentloop_lab.traffic_gap import GapStream
from intentloop_lab.traffic_iperf import rate
from tests.e2e.conftest import (
    REPO,
    AssignPorts,
    Cluster,
    Lab,
    Operator,
    on_device,
    service_subinterfaces,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="traffic enters network namespaces: root"),
]


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


VLANS = [v for v in range(700, 1000) if v != 666]  # of the example pool; no other test's


def _vlan() -> int:
    return random.choice(VLANS)


def _service(
    ns: str, name: str, a: str, b: str, *, vlan: int, mbps: int = 20, **spec: Any
) -> dict[str, Any]:
    """An L2 service between ROUTER/PORT `a` and `b` on a VLAN chosen by the test."""
    ends = [dict(zip(("device", "interface"), e.split("/"), strict=True)) for e in (a, b)]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"endpoints": ends, "bandwidthMbps": mbps, "vlan": vlan, **spec},
    }


def _ports(*services: dict[str, Any]) -> list[tuple[str, str]]:
    """The (device, interface) ports the services use: what a tenant must be assigned."""
    return [(e["device"], e["interface"]) for s in services for e in s["spec"]["endpoints"]]


def _apply(cluster: Cluster, *objs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def _get(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    import kubernetes

    try:
        obj: dict[str, Any] = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, ns, "networkservices", name
        )
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return obj


def _phase(obj: dict[str, Any]) -> str:
    return str(obj.get("status", {}).get("phase", ""))


def _ready(cluster: Cluster, operator: Operator, ns: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = wait_for(
        lambda: (
            (o := _get(cluster, ns, name)) and o.get("status", {}).get("phase") == "Ready" and o
        ),
        timeout=60,
        what=f"NetworkService {ns}/{name} Ready",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    return obj


def _pair(lab: Lab, service: dict[str, Any]) -> tuple[Attachment, Attachment]:
    """The service's two sites, each on the customer VLAN it gives (or the service's)."""
    return attachments(lab.state, service["spec"]["endpoints"], service["spec"].get("vlan"))


def _reaches(src: Endpoint, dst: Endpoint) -> bool:
    return traffic.ping(src, dst.ip, count=3, interval=0.1, timeout=0.5).reachable


def _isolated(src: Endpoint, dst: Endpoint) -> bool:
    """Not one reply to 5 requests (the same probe that shows `_reaches`)."""
    return traffic.ping(src, dst.ip, count=5, interval=0.1, timeout=0.5).received == 0


@contextmanager
def _link_down(lab: Lab, a: str, b: str) -> Iterator[None]:
    lab.link(a, b, up=False)
    try:
        yield
    finally:
        lab.link(a, b, up=True)


def test_l2_service_sites_reach_each_other_only_while_it_exists(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    svc = _service(namespace, "l2", "r1/eth1", "r4/eth1", vlan=_vlan())
    with traffic.attach(*_pair(lab, svc)) as (a, b):
        assert _isolated(a, b), "the sites reach each other before the service exists"
        assign_ports(namespace, _ports(svc))
        _apply(cluster, svc)
        ready = _ready(cluster, operator, namespace, "l2")
        ends = ready["status"]["allocated"]["endpoints"]
        assert [e["vlan"] for e in ends] == [svc["spec"]["vlan"]] * 2
        wait_for(lambda: _reaches(a, b), timeout=20, what="the sites reach each other")
        assert _reaches(b, a)
        cluster.kubectl("delete", "networkservice", "-n", namespace, "l2", "--timeout=60s")
        wait_for(lambda: _isolated(a, b), timeout=30, what="the sites cut off again")


def test_another_tenants_site_cannot_reach_a_service_on_a_shared_router_and_link(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    unique: Any,
    assign_ports: AssignPorts,
) -> None:
    tenant_b = unique("tenant-b")
    cluster.kubectl("create", "namespace", tenant_b)
    try:
        vlan_a, vlan_b = random.sample(VLANS, 2)
        svc_a = _service(namespace, "a", "r1/eth1", "r2/eth1", vlan=vlan_a)
        svc_b = _service(tenant_b, "b", "r1/eth2", "r2/eth2", vlan=vlan_b)
        assign_ports(namespace, _ports(svc_a))
        assign_ports(tenant_b, _ports(svc_b))
        _apply(cluster, svc_a, svc_b)
        shared = set(_ready(cluster, operator, namespace, "a")["status"]["pathLinks"])
        shared &= set(_ready(cluster, operator, tenant_b, "b")["status"]["pathLinks"])
        assert shared, "the two services should share a core link for this test"
        with (
            traffic.attach(*_pair(lab, svc_a)) as (a1, a2),
            traffic.attach(*_pair(lab, svc_b)) as (b1, b2),
        ):
            wait_for(lambda: _reaches(a1, a2), timeout=20, what="tenant A's service carries")
            wait_for(lambda: _reaches(b1, b2), timeout=20, what="tenant B's service carries")
            intruder = lab.state.site("r1", "eth2")  # tenant B's site on A's router
            for vlan in (vlan_a, None, vlan_b):
                with traffic.impersonate(intruder, a1, vlan) as fake:
                    assert _isolated(fake, a2), f"B's site reached A's service (vlan {vlan})"
            assert _reaches(a1, a2)  # and A's own traffic still flows
    finally:
        cluster.kubectl("delete", "namespace", tenant_b, "--wait=false", check=False)


def _crossed(ns: str, name: str, vlans: tuple[int, int]) -> dict[str, Any]:
    """A service r2/eth2 → r6/eth2 with the customer VLAN `vlans[0]` at r2, `vlans[1]` at r6."""
    svc = _service(ns, name, "r2/eth2", "r6/eth2", vlan=0)
    del svc["spec"]["vlan"]
    for end, vlan in zip(svc["spec"]["endpoints"], vlans, strict=True):
        end["vlan"] = vlan
    return svc


def test_two_services_on_the_same_ports_with_crossed_vlans_carry_only_their_own(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    """The customer's VLAN is the customer's at each port and each core link carries its own
    tag: a service may be VLAN v1 at one end and v2 at the other while a second service on
    the same two ports is v2 and v1. Joining by VLAN id would connect v1 to v1: it must not."""
    v1, v2 = random.sample(range(2, 4095), 2)
    one, two = _crossed(namespace, "one", (v1, v2)), _crossed(namespace, "two", (v2, v1))
    assign_ports(namespace, _ports(one))
    _apply(cluster, one, two)
    ready = [_ready(cluster, operator, namespace, n) for n in ("one", "two")]
    tags = [r["status"]["allocated"]["linkTags"] for r in ready]
    assert tags[0] and set(tags[0]) == set(ready[0]["status"]["pathLinks"]), ready[0]["status"]
    for link in set(tags[0]) & set(tags[1]):  # on a link both use, each has its own tag
        assert tags[0][link] != tags[1][link], (link, tags)
    for svc, obj in zip((one, two), ready, strict=True):  # each link's ports carry its tag
        for link, tag in obj["status"]["allocated"]["linkTags"].items():
            wire = next(x for x in lab.state.links if x.name == link)
            for router in (wire.a, wire.b):
                subs = service_subinterfaces(lab, router, namespace, svc["metadata"]["name"])
                assert any(s.endswith(f".{tag}") and s.startswith("core-") for s in subs), (
                    router, link, tag, subs,
                )  # fmt: skip
    with traffic.attach(*_pair(lab, one)) as (a1, a2), traffic.attach(*_pair(lab, two)) as (b1, b2):
        wait_for(lambda: _reaches(a1, a2), timeout=20, what="service one carries")
        wait_for(lambda: _reaches(b1, b2), timeout=20, what="service two carries")
    site = lab.state.site  # the same VLAN id at both ends joins one's end to two's: nothing
    for vlan in (v1, v2):
        with traffic.attach(
            Attachment(site("r2", "eth2"), vlan), Attachment(site("r6", "eth2"), vlan)
        ) as (x, y):
            assert _isolated(x, y), f"VLAN {vlan} at r2 reached VLAN {vlan} at r6"


def test_the_policer_delivers_the_service_bandwidth_when_offered_twice_as_much(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    svc = _service(namespace, "policed", "r3/eth1", "r5/eth1", vlan=_vlan(), mbps=20)
    assign_ports(namespace, _ports(svc))
    _apply(cluster, svc)
    _ready(cluster, operator, namespace, "policed")
    with traffic.attach(*_pair(lab, svc)) as (a, b):
        wait_for(lambda: _reaches(a, b), timeout=20, what="the service carries")
        under = rate(a, b, mbps=10, seconds=2)
        assert under.delivered_mbps == pytest.approx(10, rel=0.1), under.summary()
        # a token bucket first lets its depth through: the rate it holds is the steady one
        over = rate(a, b, mbps=40, seconds=5, warmup=2)
    print(f"\npoliced at 20 Mbps: {over.summary()}")
    assert over.sent_mbps > 30, over.summary()  # well over the bandwidth, even on busy cores
    assert over.steady_mbps == pytest.approx(20, rel=0.1), over.summary()
    assert over.loss_pct > 25, over.summary()


def test_a_link_down_on_the_path_is_a_gap_then_traffic_flows_on_the_new_path(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    record_property: Any,
    assign_ports: AssignPorts,
) -> None:
    svc = _service(namespace, "moves", "r6/eth1", "r1/eth2", vlan=_vlan(), mbps=5)
    assign_ports(namespace, _ports(svc))
    _apply(cluster, svc)
    links = _ready(cluster, operator, namespace, "moves")["status"]["pathLinks"]
    failed = next(x for x in lab.state.links if x.name == links[0])
    with traffic.attach(*_pair(lab, svc)) as (a, b):
        wait_for(lambda: _reaches(a, b), timeout=20, what="the service carries")
        stream = GapStream(a, b, pps=1000, max_seconds=120)
        stream.start()
        try:
            with _link_down(lab, failed.a, failed.b):
                wait_for(
                    lambda: (
                        (o := _get(cluster, namespace, "moves"))
                        and o["status"].get("phase") == "Ready"
                        and failed.name not in o["status"]["pathLinks"]
                    ),
                    timeout=60,
                    what=f"re-path off {failed.name}",
                    on_fail=lambda: operator.log.read_text()[-3000:],
                )
                wait_for(lambda: _reaches(a, b), timeout=20, what="traffic on the new path")
                result = stream.stop()
        finally:
            stream.__exit__(None, None, None)
    record_property("traffic_gap_ms", round(result.gap_ms))
    print(f"\nlink {failed.name} down: {result.summary()}")
    assert result.gap_lost > 0, "a link on the path failed, yet no packet was lost"
    assert result.restored, result.summary()
    assert result.head_ms < 100, result.summary()


def _delete_subinterface_by_hand(lab: Lab, router: str, port: str, vlan: int) -> None:
    """What an engineer on the box does: remove one sub-interface, over the router's own
    management protocol, outside the controller."""

    async def edit(adapter: Any) -> None:
        tree = await adapter.get_config()
        kept = tuple(x for x in tree.subinterfaces if (x.parent, x.vlan_id) != (port, vlan))
        assert len(kept) < len(tree.subinterfaces), f"no {port}.{vlan} on {router}"
        await adapter.stage(tree.model_copy(update={"subinterfaces": kept}))
        await adapter.commit(30)
        await adapter.confirm()

    on_device(lab, router, edit)


def test_a_sub_interface_deleted_by_hand_breaks_traffic_until_repaired(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    record_property: Any,
    assign_ports: AssignPorts,
) -> None:
    vlan = _vlan()
    svc = _service(namespace, "drift", "r3/eth1", "r5/eth2", vlan=vlan, mbps=5)
    assign_ports(namespace, _ports(svc))
    _apply(cluster, svc)
    _ready(cluster, operator, namespace, "drift")
    repairs = _repairs(cluster, "r3")
    with traffic.attach(*_pair(lab, svc)) as (a, b):
        wait_for(lambda: _reaches(a, b), timeout=20, what="the service carries")
        stream = GapStream(a, b, pps=1000, max_seconds=120)
        stream.start()
        try:
            _delete_subinterface_by_hand(lab, "r3", "eth1", vlan)
            wait_for(
                lambda: _repairs(cluster, "r3") > repairs,
                timeout=60,
                what="r3 repaired",
                on_fail=lambda: operator.log.read_text()[-3000:],
            )
            wait_for(lambda: _reaches(a, b), timeout=20, what="traffic after the repair")
            result = stream.stop()
        finally:
            stream.__exit__(None, None, None)
    record_property("drift_gap_ms", round(result.gap_ms))
    print(f"\nsub-interface eth1.{vlan} deleted on r3 by hand: {result.summary()}")
    assert result.gap_lost > 0, "the hand change did not interrupt the traffic"
    assert result.restored, result.summary()


def _repairs(cluster: Cluster, device: str) -> int:
    dc = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "deviceconfigs", device)
    return int(dc.get("status", {}).get("repairs", 0))
