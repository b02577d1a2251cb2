"""Tenancy end to end: a tenant gets only the customer ports assigned to it, and nothing it
can read names another tenant or shows configuration it does not own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    REPO,
    AssignPorts,
    Cluster,
    Lab,
    Operator,
    running_config,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"
# ports no example intent uses: a test taking them over moves nothing else
B_PORTS = [("r3", "eth1"), ("r6", "eth1")]


def _obj(kind: str, ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _ends(*ports: tuple[str, str]) -> list[dict[str, str]]:
    return [{"device": d, "interface": i} for d, i in ports]


def _apply(cluster: Cluster, *objs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def _get(cluster: Cluster, plural: str, ns: str, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    conds = {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}
    return conds.get(type_, {})


def _with_reason(cluster: Cluster, plural: str, ns: str, name: str, type_: str, reason: str) -> Any:
    obj = _get(cluster, plural, ns, name)
    return obj if _condition(obj, type_).get("reason") == reason else None


def _owned_anywhere(lab: Lab, owner: str) -> list[str]:
    """Every device item the owner has on any lab device (read from the devices)."""
    found = []
    for router in lab.state.routers:
        tree = running_config(lab, router.name)
        items = (*tree.interfaces, *tree.vlans, *tree.policers, *tree.vrfs, *tree.subinterfaces)
        found += [f"{router.name}: {item}" for item in items if owner in item.owners]
    return found


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


@pytest.mark.e2e
def test_a_port_can_be_assigned_only_once_and_only_under_its_own_name(
    cluster: Cluster, unique: Any
) -> None:
    device = unique("edge")
    good = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PortAssignment",
        "metadata": {"name": f"{device}.ge-0-0-1"},
        "spec": {"device": device, "interface": "ge-0/0/1", "tenant": "tenant-a"},
    }
    try:
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(good))
        again = {**good, "spec": {**good["spec"], "tenant": "tenant-b"}}
        twice = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(again), check=False)
        assert twice.returncode != 0 and "already exists" in twice.stderr, twice.stderr
        alias = {**again, "metadata": {"name": f"{device}.second-name"}}
        renamed = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(alias), check=False)
        assert renamed.returncode != 0, renamed.stdout
        assert "metadata.name must be <device>.<interface>" in renamed.stderr, renamed.stderr
        shown = cluster.kubectl("get", "pa", good["metadata"]["name"]).stdout
        assert "ge-0/0/1" in shown and "tenant-a" in shown
    finally:
        cluster.kubectl("delete", "pa", good["metadata"]["name"], check=False)


@pytest.fixture
def other(cluster: Cluster) -> Iterator[str]:
    """A second tenant's namespace."""
    name = f"other-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.e2e
def test_a_service_on_another_tenants_port_is_refused_then_converges_once_assigned(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    other: str,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(other, B_PORTS)
    _apply(
        cluster,
        _obj("NetworkService", namespace, "grab", endpoints=_ends(*B_PORTS), bandwidthMbps=5),
    )
    obj = wait_for(
        lambda: _with_reason(
            cluster, "networkservices", namespace, "grab", "Ready", "PortNotAssigned"
        ),
        timeout=30,
        what="the refusal",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    ready = _condition(obj, "Ready")
    assert ready["status"] == "False"
    assert f"r3/eth1, r6/eth1 are not assigned to namespace {namespace}" in ready["message"]
    assert other not in yaml.safe_dump(obj)  # who holds the ports is not said
    assert not _owned_anywhere(lab, f"{namespace}/grab")  # nothing reached any device
    allocations = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")
    assert not [a for a in allocations["items"] if a["spec"]["owner"] == f"{namespace}/grab"]
    plan = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Transaction",
        "metadata": {"name": "plan-grab", "namespace": namespace},
        "spec": {
            "dryRun": True,
            "intentRef": {"kind": "NetworkService", "name": "grab", "namespace": namespace},
            "plannedService": {"endpoints": _ends(*B_PORTS), "bandwidthMbps": 5},
        },
    }
    _apply(cluster, plan)
    planned = wait_for(
        lambda: (
            (t := _get(cluster, "transactions", namespace, "plan-grab"))
            .get("status", {})
            .get("phase")
            and t
        ),
        timeout=30,
        what="the dry run's answer",
    )
    assert planned["status"]["phase"] == "Failed", planned["status"]  # refused like the real one
    assert "r3/eth1, r6/eth1 are not assigned" in planned["status"]["message"]
    assert other not in yaml.safe_dump(planned) and not planned["status"].get("devices")

    assign_ports(namespace, B_PORTS)  # the platform team gives the ports to this tenant
    obj = wait_for(
        lambda: _with_reason(cluster, "networkservices", namespace, "grab", "Ready", "Provisioned"),
        timeout=60,
        what="convergence once the ports are assigned",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    vlans = {
        (e["device"], e["interface"]): e["vlan"] for e in obj["status"]["allocated"]["endpoints"]
    }
    for device, port in B_PORTS:
        subs = {s.name for s in running_config(lab, device).subinterfaces}
        assert f"{port}.{vlans[(device, port)]}" in subs, (device, subs)

    # The port is given back to the other tenant: the running service is not torn down, it
    # says it runs on a port that is no longer its namespace's.
    assign_ports(other, B_PORTS[:1])
    obj = wait_for(
        lambda: _with_reason(
            cluster, "networkservices", namespace, "grab", "Degraded", "PortNotAssigned"
        ),
        timeout=30,
        what="Degraded once the port lost its assignment",
    )
    assert _condition(obj, "Degraded")["status"] == "True"
    assert _condition(obj, "Ready")["status"] == "True"
    assert "r3/eth1 is not assigned" in _condition(obj, "Degraded")["message"]
    assert f"eth1.{vlans[('r3', 'eth1')]}" in {
        s.name for s in running_config(lab, "r3").subinterfaces
    }
    assign_ports(namespace, B_PORTS[:1])
    wait_for(
        lambda: (
            _condition(_get(cluster, "networkservices", namespace, "grab"), "Degraded").get(
                "status"
            )
            == "False"
        ),
        timeout=30,
        what="Degraded cleared once the port is assigned again",
    )
    cluster.kubectl("delete", "networkservice", "grab", "-n", namespace, "--timeout=60s")


def _reserved(cluster: Cluster, link: str) -> int:
    obj = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "links", link)
    return int(obj.get("status", {}).get("reservedMbps", 0))


@pytest.mark.e2e
def test_a_dedicated_slice_on_another_tenants_port_is_refused_then_admitted_and_reserved(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    other: str,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(other, B_PORTS)
    slice_ = _obj(
        "NetworkSlice",
        namespace,
        "grab-slice",
        endpoints=_ends(*B_PORTS),
        guaranteedBandwidthMbps=777,
        isolation="dedicated",
    )
    _apply(cluster, slice_)
    obj = wait_for(
        lambda: _with_reason(
            cluster, "networkslices", namespace, "grab-slice", "Admitted", "PortNotAssigned"
        ),
        timeout=30,
        what="the refusal",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    assert obj["status"]["phase"] == "Rejected"
    assert f"not assigned to namespace {namespace}" in obj["status"]["reason"]
    assert "r3/eth1" in obj["status"]["reason"] and other not in yaml.safe_dump(obj)
    assert not obj["status"].get("reserved")
    # what every link carries without the slice: another intent's reservations on a link
    # (the examples', in a full run) must not pass for the slice's
    baseline = {link.name: _reserved(cluster, link.name) for link in lab.state.links}

    assign_ports(namespace, B_PORTS)
    obj = wait_for(
        lambda: _with_reason(
            cluster, "networkslices", namespace, "grab-slice", "Admitted", "Admitted"
        ),
        timeout=60,
        what="admission once the ports are assigned",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    links = sorted({link for r in obj["status"]["reserved"] for link in r["links"]})
    assert links
    # `kubectl get lnk` RESERVED counts the slice's reservation on each of its links
    held = {
        link: wait_for(
            lambda link=link: (v := _reserved(cluster, link)) >= baseline[link] + 777 and v,
            timeout=30,
            what=f"link {link} showing the slice's 777 Mbps (it held {baseline[link]} before)",
            on_fail=lambda link=link: f"now {_reserved(cluster, link)}",
        )
        for link in links
    }
    # what the links carry just before the deletion (other tests' services may have come
    # or gone since the slice was admitted), then the slice's 777 Mbps must come off it
    assert all(v >= 777 for v in held.values()), held
    before = {link: _reserved(cluster, link) for link in links}
    cluster.kubectl("delete", "networkslice", "grab-slice", "-n", namespace, "--timeout=60s")
    for link, value in before.items():
        wait_for(
            lambda link=link, value=value: _reserved(cluster, link) <= value - 777,
            timeout=30,
            what=f"link {link} giving the 777 Mbps back (it held {value} before)",
            on_fail=lambda link=link: f"now {_reserved(cluster, link)}",
        )
