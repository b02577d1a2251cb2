"""Failures that depend on the world heal when it changes, without anyone touching the service.

Real API server, operator and lab devices. Each test owns what it changes: its own pool
(covering only a VLAN no other pool has) and its own Link (on ports only its service uses),
so nothing else in the shared cluster is disturbed and nothing else can make it pass.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    REPO,
    AssignPorts,
    Cluster,
    Lab,
    Operator,
    customer_vlans,
    running_config,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"
NO_POOL = "no ResourcePool of kind vlan exists"


def _service(ns: str, name: str, a: tuple[str, str], b: tuple[str, str], **spec: Any) -> str:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}],
            "bandwidthMbps": 10,
            **spec,
        },
    }
    return yaml.safe_dump(body)


def _ready(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name)
    conditions = {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}
    return {"obj": obj, **conditions}


def _not_ready_because(cluster: Cluster, ns: str, name: str, reason: str) -> Any:
    found = _ready(cluster, ns, name)
    ready = found.get("Ready")
    return found if ready and ready["status"] == "False" and ready["reason"] == reason else None


def _is_ready(cluster: Cluster, ns: str, name: str) -> Any:
    found = _ready(cluster, ns, name)
    ready = found.get("Ready")
    return found["obj"] if ready and ready["status"] == "True" else None


def _warnings(cluster: Cluster, ns: str, name: str, reason: str) -> list[Any]:
    events = cluster.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}")
    return [e for e in events.items if e.reason == reason and e.type == "Warning"]


def _allocations_of(cluster: Cluster, owner: str) -> list[dict[str, Any]]:
    items = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")["items"]
    return [a for a in items if a["spec"]["owner"] == owner]


@pytest.mark.e2e
def test_a_service_waiting_for_a_vlan_pool_becomes_ready_when_the_pool_appears(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, [("r1", "eth2"), ("r4", "eth2")])
    # A VLAN no other pool covers (the shared pools stop at 999): until the test's own pool
    # exists, no pool can give it — the same situation as a cluster without any VLAN pool.
    vlan = 3000 + uuid.uuid4().int % 1000
    pool = f"t-heal-{vlan}"
    service = _service(namespace, "wait-pool", ("r1", "eth2"), ("r4", "eth2"), vlan=vlan)
    cluster.kubectl("apply", "-f", "-", input=service)
    waiting = wait_for(
        lambda: _not_ready_because(cluster, namespace, "wait-pool", "AllocationFailed"),
        timeout=60,
        what="the service waiting for a pool",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    message = waiting["Ready"]["message"]  # whether or not the shared pools exist yet:
    assert message.startswith(f"VLAN {vlan} is in none of the pools") or message == NO_POOL, message
    # Waiting on the world is Degraded, not Progressing, and not final: kopf retries it.
    assert waiting["Degraded"]["status"] == "True" and waiting["Progressing"]["status"] == "False"
    wait_for(
        lambda: (
            _ready(cluster, namespace, "wait-pool")["obj"]["status"]
            .get("kopf", {})
            .get("progress", {})
            .get("service-create", {})
            .get("retries", 0)
            >= 2
        ),
        timeout=60,
        what="a retry of the waiting service",
    )
    assert len(_warnings(cluster, namespace, "wait-pool", "AllocationFailed")) == 1  # per cause
    assert not _allocations_of(cluster, f"{namespace}/wait-pool")

    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ResourcePool",
        "metadata": {"name": pool},
        "spec": {"kind": "vlan", "ranges": [{"start": vlan, "end": vlan}]},
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    try:
        obj = wait_for(
            lambda: _is_ready(cluster, namespace, "wait-pool"),
            timeout=60,
            what="the service Ready once its pool exists",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        assert set(customer_vlans(obj).values()) == {vlan}  # at both ends
        for router in ("r1", "r4"):
            subs = {s.name for s in running_config(lab, router).subinterfaces}
            assert f"eth2.{vlan}" in subs, (router, sorted(subs))
        held = _allocations_of(cluster, f"{namespace}/wait-pool")
        at_ports = {a["spec"]["pool"]: a["spec"]["value"] for a in held}
        assert {k: at_ports.get(k) for k in ("port.r1.eth2", "port.r4.eth2")} == {
            "port.r1.eth2": vlan,
            "port.r4.eth2": vlan,
        }
        assert pool not in at_ports  # the pool says which VLANs may be asked for; each port
        # holds its own
    finally:
        cluster.kubectl("delete", "networkservice", "wait-pool", "-n", namespace, "--timeout=60s")
        cluster.kubectl("delete", "resourcepool", pool, "--wait=false", check=False)


@pytest.mark.e2e
def test_a_link_on_a_customer_port_makes_the_service_not_ready_until_it_is_deleted(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, [("r3", "eth1"), ("r6", "eth1")])
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    service = _service(namespace, "port-clash", ("r3", "eth1"), ("r6", "eth1"))
    cluster.kubectl("apply", "-f", "-", input=service)
    first = wait_for(
        lambda: _is_ready(cluster, namespace, "port-clash"),
        timeout=60,
        what="the service Ready",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    vlans = customer_vlans(first)

    # The platform team declares a Link on r3/eth1 — the service's customer port. Thin and
    # expensive, so no other route would ever choose it while it exists.
    link = f"t-clash-{uuid.uuid4().hex[:6]}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Link",
        "metadata": {"name": link},
        "spec": {
            "a": {"device": "r3", "interface": "eth1"},
            "b": {"device": "r6", "interface": "eth1"},
            "capacityMbps": 1,
            "cost": 1000000,
            "latencyMs": 1000,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    try:
        clash = wait_for(
            lambda: _not_ready_because(cluster, namespace, "port-clash", "PortConflict"),
            timeout=60,
            what="the service not Ready because of the Link",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        message = clash["Ready"]["message"]
        assert message.startswith(
            f"r3/eth1 is a customer port of this service but Link {link} (r3-r6) uses it as a "
            "core port"
        ), message
        assert "pydantic" not in message and "errors.pydantic.dev" not in message
        wait_for(
            lambda: _warnings(cluster, namespace, "port-clash", "PortConflict"),
            timeout=30,
            what="a PortConflict Event",
        )
    finally:
        cluster.kubectl("delete", "link", link, "--timeout=60s")

    obj = wait_for(
        lambda: _is_ready(cluster, namespace, "port-clash"),
        timeout=60,
        what="the service Ready again once the Link is gone",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    assert customer_vlans(obj) == vlans
    for router in ("r3", "r6"):
        subs = {s.name for s in running_config(lab, router).subinterfaces}
        assert f"eth1.{vlans[(router, 'eth1')]}" in subs, (router, sorted(subs))
    cluster.kubectl("delete", "networkservice", "port-clash", "-n", namespace, "--timeout=60s")


@pytest.mark.e2e
def test_a_rejected_slice_is_admitted_once_the_network_can_carry_it(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, [("r1", "eth2"), ("r4", "eth2")])
    # 0.5 ms between r1 and r4: no route of the lab is that fast (the chord takes 1 ms).
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkSlice",
        "metadata": {"name": "fast", "namespace": namespace},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth2"},
                {"device": "r4", "interface": "eth2"},
            ],
            "guaranteedBandwidthMbps": 10,
            "maxLatencyMs": 0.5,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))

    def phase(want: str) -> Any:
        obj = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "networkslices", "fast"
        )
        return obj if obj.get("status", {}).get("phase") == want else None

    rejected = wait_for(lambda: phase("Rejected"), timeout=60, what="the slice rejected")
    assert rejected["status"]["conditions"][0]["reason"] == "LatencyBoundExceeded", rejected
    # The platform team adds a fast link (thin and expensive: nothing else would take it).
    tag = uuid.uuid4().hex[:6]
    link = f"t-fast-{tag}"
    spec = {
        "a": {"device": "r1", "interface": f"core-t{tag}"},
        "b": {"device": "r4", "interface": f"core-t{tag}"},
        "capacityMbps": 100,
        "latencyMs": 0.1,
        "cost": 1000000,
    }
    doc = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Link", "metadata": {"name": link}}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump({**doc, "spec": spec}))
    try:
        admitted = wait_for(
            lambda: phase("Admitted"),
            timeout=60,
            what="the slice admitted once the fast link exists",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        assert [p["links"] for p in admitted["status"]["reserved"]] == [[link]]
        assert len(_warnings(cluster, namespace, "fast", "Rejected")) == 1  # one per reason
    finally:
        cluster.kubectl("delete", "networkslice", "fast", "-n", namespace, "--timeout=60s")
        cluster.kubectl("delete", "link", link, "--timeout=60s")
