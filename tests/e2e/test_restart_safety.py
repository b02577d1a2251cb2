"""Crash safety: SIGKILL the operator at random moments while 20 services are being
provisioned, 10 trials. After each restart every service is Ready, every device holds
exactly its intended configuration, and no identifier leaks."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import yaml

from intentloop_intents import drift
from intentloop_intents.device import DeviceConfigTree
from tests.e2e.conftest import (
    REPO,
    AssignPorts,
    Cluster,
    Lab,
    Operator,
    holds,
    lab_ports,
    running_config,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"
TRIALS = int(__import__("os").environ.get("INTENTLOOP_CRASH_TRIALS", "10"))
SERVICES = 20
PORTS = ("eth1", "eth2")


def _services(namespace: str, rng: random.Random, routers: list[str]) -> str:
    docs = []
    for i in range(SERVICES):
        a, b = rng.sample(routers, 2)
        docs.append(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "NetworkService",
                "metadata": {"name": f"svc-{i:02d}", "namespace": namespace},
                "spec": {
                    "endpoints": [
                        {"device": a, "interface": rng.choice(PORTS)},
                        {"device": b, "interface": rng.choice(PORTS)},
                    ],
                    "bandwidthMbps": 5,
                },
            }
        )
    return yaml.safe_dump_all(docs)


def _all_ready(cluster: Cluster, namespace: str) -> list[dict[str, Any]] | None:
    items = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "networkservices"
    )["items"]
    ready = [s for s in items if s.get("status", {}).get("phase") == "Ready"]
    return items if len(items) == SERVICES and len(ready) == SERVICES else None


def _owners(tree: DeviceConfigTree) -> set[str]:
    items = (*tree.interfaces, *tree.vlans, *tree.policers, *tree.vrfs, *tree.subinterfaces)
    return {o for item in items for o in item.owners}


def _check_devices_and_allocations(
    cluster: Cluster, lab: Lab, services: list[dict[str, Any]]
) -> None:
    live = {f"{s['metadata']['namespace']}/{s['metadata']['name']}" for s in services}
    desired = {
        d["spec"]["device"]: DeviceConfigTree.model_validate(d["spec"]["config"])
        for d in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "deviceconfigs")["items"]
    }

    # Converged means every device holds exactly its DeviceConfig (a transaction still
    # finishing when all turned Ready may need a moment to land everywhere).
    def mismatched() -> list[tuple[str, list[Any]]]:
        current = {
            d["spec"]["device"]: DeviceConfigTree.model_validate(d["spec"]["config"]).canonical()
            for d in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "deviceconfigs")[
                "items"
            ]
        }
        out = []
        for router in lab.state.routers:
            intended = current.get(router.name, DeviceConfigTree())
            running = running_config(lab, router.name)
            if running != holds(lab, router.name, intended):
                out.append(
                    (router.name, drift.deviations(intended, running, compare_owners=True)[:3])
                )
        return out

    last: list[Any] = []

    def converged() -> bool:
        last[:] = mismatched()
        return not last

    wait_for(
        converged,
        timeout=30,
        what="devices equal to their DeviceConfig",
        interval=1,
        on_fail=lambda: repr(last),
    )
    for s in services:  # each service is on every device of its path, with its own VLAN
        owner = f"{s['metadata']['namespace']}/{s['metadata']['name']}"
        for device in s["status"]["path"]:
            assert owner in _owners(desired[device]), (owner, device)
    allocations = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")["items"]
    held: dict[str, dict[str, list[int]]] = {}
    for a in allocations:
        held.setdefault(a["spec"]["owner"], {}).setdefault(a["spec"]["pool"], []).append(
            a["spec"]["value"]
        )
    on_link: dict[str, list[int]] = {}
    for s in services:  # one value per pool: each port, each link of its path, one service ID
        owner = f"{s['metadata']['namespace']}/{s['metadata']['name']}"
        mine = s["status"]["allocated"]
        want = {f"port.{e['device']}.{e['interface']}": [e["vlan"]] for e in mine["endpoints"]}
        want |= {f"link.{link}": [tag] for link, tag in mine["linkTags"].items()}
        want["service-ids"] = [mine["serviceId"]]
        assert held.get(owner) == want, (owner, held.get(owner), want)
        for link, tag in mine["linkTags"].items():
            on_link.setdefault(link, []).append(tag)
    for link, tags in on_link.items():
        assert len(set(tags)) == len(tags), f"a tag was handed out twice on {link}"
    assert set(held) <= set(live), "a gone service still holds identifiers"


@pytest.mark.e2e
def test_operator_killed_during_provisioning_converges_every_time(
    cluster: Cluster, lab: Lab, operator: Operator, unique: Any, assign_ports: AssignPorts
) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    rng = random.Random(20261122)
    routers = [r.name for r in lab.state.routers]
    for trial in range(TRIALS):
        namespace = unique(f"crash{trial}")
        cluster.kubectl("create", "namespace", namespace)
        assign_ports(namespace, lab_ports(lab))
        cluster.kubectl("apply", "-f", "-", input=_services(namespace, rng, routers))
        time.sleep(rng.uniform(0.0, 2.5))  # the moment of the crash: anywhere in provisioning
        operator.crash_and_restart()
        services = wait_for(
            lambda ns=namespace: _all_ready(cluster, ns),
            timeout=120,
            what=f"trial {trial}: all {SERVICES} services Ready after the crash",
            on_fail=lambda: operator.log.read_text()[-4000:],
        )
        _check_devices_and_allocations(cluster, lab, services)
        cluster.kubectl("delete", "networkservices", "--all", "-n", namespace, "--timeout=120s")
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
    leftovers = [
        a
        for a in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "allocations")["items"]
        if a["spec"]["owner"].startswith("crash")
    ]
    assert not leftovers, "identifiers leaked after deletion"
