"""Slices and services provisioned end to end: real API server, operator and lab devices.

Every check that matters reads the devices' running configuration back over NETCONF/gNMI.
"""

from __future__ import annotations

from typing import Any

import kubernetes
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
    service_subinterfaces,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _get(cluster: Cluster, plural: str, ns: str, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)


def _phase(cluster: Cluster, plural: str, ns: str, name: str, *want: str) -> dict[str, Any] | None:
    obj = _get(cluster, plural, ns, name)
    return obj if obj.get("status", {}).get("phase") in want else None


def _service(
    ns: str, name: str, a: tuple[str, str], b: tuple[str, str], mbps: int, **spec: Any
) -> str:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}],
            "bandwidthMbps": mbps,
            **spec,
        },
    }
    return yaml.safe_dump(body)


def _subinterfaces(lab: Lab, router: str, obj: dict[str, Any]) -> set[str]:
    meta = obj["metadata"]
    return service_subinterfaces(lab, router, meta["namespace"], meta["name"])


@pytest.fixture(scope="module")
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


@pytest.mark.e2e
def test_the_examples_become_ready_and_are_on_the_devices(
    cluster: Cluster, lab: Lab, operator: Operator, pools: None
) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples"))
    docs = [
        d
        for path in sorted((REPO / "intents" / "examples").glob("[0-9]*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d and d["kind"] in ("NetworkService", "NetworkSlice")
    ]
    for d in docs:
        plural = d["kind"].lower() + "s"
        meta = d["metadata"]
        want = "Admitted" if d["kind"] == "NetworkSlice" else "Ready"
        obj = wait_for(
            lambda p=plural, m=meta, w=want: _phase(cluster, p, m["namespace"], m["name"], w),
            timeout=60,
            what=f"{d['kind']} {meta['name']} {want}",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        if d["kind"] != "NetworkService":
            continue
        vlans = customer_vlans(obj)
        for end in d["spec"]["endpoints"]:
            vlan = vlans[(end["device"], end["interface"])]
            assert f"{end['interface']}.{vlan}" in _subinterfaces(lab, end["device"], obj)
        # Every device on the path carries the service; no device off the path does (an
        # l3vpn's path is its first route: its links name every device of every route).
        path = set(obj["status"]["path"])
        ends = {link.name: (link.a, link.b) for link in lab.state.links}
        path |= {d for name in obj["status"]["pathLinks"] for d in ends[name]}
        for router in (r.name for r in lab.state.routers):
            on_device = bool(_subinterfaces(lab, router, obj))
            assert on_device == (router in path), (router, path)


@pytest.mark.e2e
def test_an_infeasible_slice_is_rejected_naming_the_bottleneck(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, [("r1", "eth2"), ("r4", "eth2")])
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkSlice",
        "metadata": {"name": "too-big", "namespace": namespace},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth2"},
                {"device": "r4", "interface": "eth2"},
            ],
            "guaranteedBandwidthMbps": 9000,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    obj = wait_for(
        lambda: _phase(cluster, "networkslices", namespace, "too-big", "Rejected"),
        timeout=30,
        what="rejection",
    )
    reason = obj["status"]["reason"]
    assert "9000 Mbps" in reason and "bottleneck" in reason, reason
    assert any(link.name in reason for link in lab.state.links), reason


@pytest.mark.e2e
def test_a_service_over_capacity_fails_clearly_and_configures_nothing(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    pools: None,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r1", "eth2"), ("r4", "eth2")])
    cluster.kubectl(
        "apply", "-f", "-", input=_service(namespace, "huge", ("r1", "eth2"), ("r4", "eth2"), 50000)
    )
    obj = wait_for(
        lambda: _phase(cluster, "networkservices", namespace, "huge", "Failed"),
        timeout=30,
        what="failure",
    )
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InsufficientBandwidth"
    assert "50000 Mbps" in ready["message"]
    allocs = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")["items"]
    assert not [a for a in allocs if a["spec"]["owner"] == f"{namespace}/huge"]
    for router in ("r1", "r4"):
        assert not [s for s in running_config(lab, router).subinterfaces if "huge" in str(s.owners)]


@pytest.mark.e2e
def test_update_pushes_only_what_changed_and_delete_removes_exactly_the_service(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    pools: None,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r3", "eth1"), ("r6", "eth1")])
    before = {r.name: running_config(lab, r.name) for r in lab.state.routers}
    cluster.kubectl(
        "apply", "-f", "-", input=_service(namespace, "upd", ("r3", "eth1"), ("r6", "eth1"), 20)
    )
    obj = wait_for(
        lambda: _phase(cluster, "networkservices", namespace, "upd", "Ready"),
        timeout=30,
        what="Ready",
    )
    held, first_tx = obj["status"]["allocated"], obj["status"]["transactionRef"]["name"]

    cluster.kubectl(
        "apply", "-f", "-", input=_service(namespace, "upd", ("r3", "eth1"), ("r6", "eth1"), 30)
    )
    obj = wait_for(
        lambda: (
            (o := _get(cluster, "networkservices", namespace, "upd"))["status"]["transactionRef"][
                "name"
            ]
            != first_tx
            and o
        ),
        timeout=30,
        what="update applied",
    )
    assert obj["status"]["phase"] == "Ready" and obj["status"]["allocated"] == held
    ref = obj["status"]["transactionRef"]

    def recorded() -> Any:
        try:
            found = _get(cluster, "transactions", ref["namespace"], ref["name"])
        except kubernetes.client.ApiException:
            return None
        return found if found.get("status", {}).get("devices") else None

    record = wait_for(recorded, timeout=10, what="the transaction's audit record")
    diffs = [d["diff"] for d in record["status"]["devices"] if d["diff"]]
    assert diffs, record["status"]
    # only the policer's rate moved: no sub-interface, VLAN or port re-sent, on either
    # kind of router (intentloop-device's rate-mbps; OpenConfig's one-rate-two-color cir)
    for diff in diffs:
        rate = "rate-mbps" in diff or "one-rate-two-color/config/cir" in diff
        assert rate and "subinterface" not in diff and "vlan-id" not in diff, diff

    cluster.kubectl("delete", "networkservice", "upd", "-n", namespace, "--timeout=30s")
    for r in lab.state.routers:
        assert running_config(lab, r.name) == before[r.name], r.name
    allocs = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")["items"]
    assert not [a for a in allocs if a["spec"]["owner"] == f"{namespace}/upd"]


@pytest.mark.e2e
def test_a_device_rejecting_its_commit_is_named_and_nothing_is_half_configured(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    pools: None,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r5", "eth2"), ("r3", "eth2")])
    lab.device("r3", "reject")  # one-shot: r3's next commit fails with the device's error
    cluster.kubectl(
        "apply", "-f", "-", input=_service(namespace, "rej", ("r5", "eth2"), ("r3", "eth2"), 10)
    )

    def failure() -> Any:
        obj = _get(cluster, "networkservices", namespace, "rej")
        ready = {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}.get("Ready")
        return ready if ready and ready["reason"] == "TransactionFailed" else None

    ready = wait_for(failure, timeout=30, what="transaction failure reported")
    assert "device r3 failed at commit" in ready["message"], ready["message"]

    def rolled_back() -> list[dict[str, Any]]:
        """The audit records of rolled-back transactions (written just after the change)."""
        records = cluster.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "transactions"
        )
        return [t for t in records["items"] if t.get("status", {}).get("phase") == "RolledBack"]

    failed = wait_for(rolled_back, timeout=10, what="the rolled-back transaction's record")
    assert failed[0]["status"]["failedDevice"] == "r3"
    for device in failed[0]["status"]["devices"]:  # every device that changed was put back
        assert device["outcome"] in ("rolledBack", "unchanged"), device
    # r3 accepts again: the service converges by itself, on every device of its path.
    obj = wait_for(
        lambda: _phase(cluster, "networkservices", namespace, "rej", "Ready"),
        timeout=60,
        what="convergence",
    )
    for router in obj["status"]["path"]:
        assert _subinterfaces(lab, router, obj), router
