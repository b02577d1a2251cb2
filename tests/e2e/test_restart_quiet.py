"""A restart with the same world changes nothing on the network and raises nothing.

The operator is stopped (SIGTERM, as a rolling update does) while services are Ready and
started again: it is ready (`/readyz`) once its resume passes are done, sends no
transaction for the services it finds configured, rewrites no DeviceConfig they are on,
raises no alarm for a device or service that is fine — and a service created right after
the restart is provisioned while it resumes.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, lab_ports, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"
SERVICES = 12
QUIET_WINDOW_S = 8.0  # four probe intervals of the e2e operator (2 s): misses would show


def _service(namespace: str, name: str, a: str, b: str, port: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "endpoints": [{"device": a, "interface": port}, {"device": b, "interface": port}],
            "bandwidthMbps": 2,
        },
    }


def _ready(cluster: Cluster, namespace: str, count: int) -> list[dict[str, Any]] | None:
    items = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "networkservices"
    )["items"]
    ready = [s for s in items if s.get("status", {}).get("phase") == "Ready"]
    return items if len(items) == count and len(ready) == count else None


def _records(cluster: Cluster, namespace: str) -> dict[str, dict[str, Any]]:
    items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "transactions")
    return {t["metadata"]["name"]: t for t in items["items"]}


def _device_configs(cluster: Cluster) -> dict[str, dict[str, Any]]:
    items = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "deviceconfigs")["items"]
    return {d["metadata"]["name"]: d for d in items}


def _readyz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _alarm_counts(cluster: Cluster, namespaces: set[str]) -> dict[tuple[str, str], int]:
    """How often each alarm of `namespaces` has been raised (a re-raise counts one more)."""
    return {
        (a["metadata"]["namespace"], a["metadata"]["name"]): int(
            (a.get("status") or {}).get("count") or 0
        )
        for a in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "alarms")["items"]
        if a["metadata"]["namespace"] in namespaces
    }


def _raised_since(before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]) -> list:
    return sorted(key for key, count in after.items() if count > before.get(key, 0))


def _items_of(configs: dict[str, dict[str, Any]], prefix: str) -> set[str]:
    """Every desired item (device, kind, item) owned by an owner starting with `prefix`."""
    found = set()
    for name, config in configs.items():
        for kind, items in (config["spec"].get("config") or {}).items():
            for item in items:
                if any(o.startswith(prefix) for o in item.get("owners", [])):
                    mine = {
                        **item,
                        "owners": sorted(o for o in item["owners"] if o.startswith(prefix)),
                    }
                    found.add(json.dumps([name, kind, mine], sort_keys=True))
    return found


@pytest.mark.e2e
def test_a_restart_sends_nothing_raises_nothing_and_takes_new_work_at_once(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    assign_ports: AssignPorts,
) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    assign_ports(namespace, lab_ports(lab))
    routers = [r.name for r in lab.state.routers]
    rng = random.Random(20261205)
    docs = [
        _service(namespace, f"svc-{i:02d}", *rng.sample(routers, 2), rng.choice(("eth1", "eth2")))
        for i in range(SERVICES)
    ]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    wait_for(lambda: _ready(cluster, namespace, SERVICES), timeout=180, what="services Ready")
    records = _records(cluster, namespace)
    configs = _device_configs(cluster)
    watched = {namespace, "intentloop-system"}
    alarms = _alarm_counts(cluster, watched)

    operator.stop()
    operator.start_again()
    wait_for(lambda: _readyz(operator.metrics_port), timeout=60, what="operator /readyz")
    a, b = rng.sample(routers, 2)
    new = _service(namespace, "after-restart", a, b, "eth1")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(new))
    wait_for(lambda: _ready(cluster, namespace, SERVICES + 1), timeout=60, what="new service Ready")
    time.sleep(QUIET_WINDOW_S)  # absence over a window: probes and assurance have run

    fresh = {n: t for n, t in _records(cluster, namespace).items() if n not in records}
    about = {
        (t["spec"].get("intentRef") or {}).get("name")
        or t["metadata"].get("annotations", {}).get("intentloop.io/intents")  # a batch
        for t in fresh.values()
    }
    assert about <= {"after-restart"}, f"the restart sent transactions for {about}"
    # What the desired configs hold for this test's services is what they held before (other
    # tests' namespaces may still be cleaned up meanwhile: their items are not ours to judge)
    before_items = _items_of(configs, f"{namespace}/svc-")
    after_items = _items_of(_device_configs(cluster), f"{namespace}/svc-")
    assert after_items == before_items, "the restart rewrote its services' desired config"
    raised = _raised_since(alarms, _alarm_counts(cluster, watched))
    assert raised == [], f"alarms raised by the restart itself: {raised}"
    devices = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "devices")["items"]
    unreachable = [d["metadata"]["name"] for d in devices if not d["status"].get("reachable")]
    assert unreachable == []
    # and nothing stale: no alarm is active for a device that answers or a service that runs
    stale = [
        f"{a['metadata']['namespace']}/{a['metadata']['name']}"
        for a in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "alarms")["items"]
        if (a.get("status") or {}).get("state") == "active"
        and (
            a["metadata"]["namespace"] == namespace
            or (a.get("status") or {}).get("probableCause") == "deviceUnreachable"
        )
    ]
    assert stale == []
