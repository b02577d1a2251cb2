"""An idle network is quiet: no status write that only moves a timestamp.

Watches Devices and DeviceConfigs through the real API server (from the resourceVersion of
a fresh list, so every write in the window is seen) while the operator keeps probing and
drift-checking the lab every 2 s. A write that changes something real (another test's
leftovers settling) is allowed; a write whose only change is `lastSeen` / `lastChecked`
(or bookkeeping metadata) is the churn that wakes every watcher for nothing. The checks did
run meanwhile: the operator's freshness metrics say every device was checked in the window.
"""

from __future__ import annotations

import copy
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Cluster, Lab, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"
WINDOW_S = 10  # the watch's server-side timeout: 5 probes and 5 drift checks per device
TIMESTAMPS = ("lastSeen", "lastChecked")


def _essence(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what a write may bump that no person would notice."""
    obj = copy.deepcopy(obj)
    for key in ("resourceVersion", "managedFields"):
        obj.get("metadata", {}).pop(key, None)
    for key in TIMESTAMPS:
        obj.get("status", {}).pop(key, None)
    return obj


def _watch(cluster: Cluster, plural: str) -> tuple[int, list[str]]:
    """(writes seen, the ones that changed nothing but timestamps) during the window."""
    listing = cluster.custom.list_cluster_custom_object(GROUP, VERSION, plural)
    known = {o["metadata"]["name"]: o for o in listing["items"]}
    writes, idle = 0, []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(
        cluster.custom.list_cluster_custom_object,
        GROUP,
        VERSION,
        plural,
        resource_version=listing["metadata"]["resourceVersion"],
        timeout_seconds=WINDOW_S,
    ):
        obj = event["object"]
        name = obj["metadata"]["name"]
        before = known.get(name)
        known[name] = obj
        if event["type"] != "MODIFIED" or before is None:
            continue
        writes += 1
        if _essence(before) == _essence(obj):
            moved = [
                k for k in TIMESTAMPS if before.get("status", {}).get(k) != obj["status"].get(k)
            ]
            idle.append(f"{plural}/{name}: only {moved or 'metadata'} changed")
    return writes, idle


def _freshness(operator: Operator) -> dict[str, float]:
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        text = reply.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name == "intentloop_device_check_oldest_timestamp_seconds":
            found.update({s.labels["check"]: s.value for s in family.samples})
    return found


@pytest.mark.e2e
def test_an_idle_network_writes_no_status_that_only_moves_a_timestamp(
    cluster: Cluster, lab: Lab, operator: Operator
) -> None:
    routers = {r.name for r in lab.state.routers}

    def every_router_reachable() -> bool:
        items = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "devices")["items"]
        up = {d["metadata"]["name"] for d in items if d.get("status", {}).get("reachable")}
        return routers <= up

    wait_for(every_router_reachable, timeout=90, what="every lab router reachable")
    started = time.time()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: _watch(cluster, p), ("devices", "deviceconfigs")))
    idle = [line for _, lines in results for line in lines]
    assert not idle, idle
    # The operator was not merely asleep: every device was probed and drift-checked after
    # the window opened (the stalest check is younger than the window).
    fresh = _freshness(operator)
    assert fresh.get("probe", 0) >= started, fresh
    assert fresh.get("drift", 0) >= started, fresh
