"""Planned maintenance end to end: services drained make-before-break before the window
(traffic measured at the customer sites), the one that cannot move listed first with the
reason, the target's alarms expected in the window (no ticket), services back after it."""

from __future__ import annotations

import os
import random
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from intentloop_lab import traffic
from intentloop_lab.traffic_cli import attachments
from intentloop_lab.traffic_gap import GapStream
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"
INFRA = "intentloop-system"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="traffic enters network namespaces: root"),
]


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


def _service(ns: str, name: str, port: str, vlan: int, bound: float) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": "r1", "interface": port}, {"device": "r4", "interface": port}],
            "bandwidthMbps": 5,
            "vlan": vlan,
            "sla": {"maxLatencyMs": bound},
        },
    }


def _get(cluster: Cluster, ns: str, plural: str, name: str) -> dict[str, Any]:
    if ns:
        return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
    return cluster.custom.get_cluster_custom_object(GROUP, VERSION, plural, name)


def _links(cluster: Cluster, ns: str, name: str) -> list[str]:
    status = _get(cluster, ns, "networkservices", name).get("status", {})
    return list(status.get("pathLinks", [])) if status.get("phase") == "Ready" else []


def _tickets(operator: Operator) -> float:
    url = f"http://127.0.0.1:{operator.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    line = next(x for x in text.splitlines() if x.startswith("intentloop_alarm_tickets_total"))
    return float(line.split()[-1])


def test_a_link_maintenance_drains_without_loss_expects_its_alarms_and_gives_back(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    unique: Any,
    assign_ports: AssignPorts,
    record_property: Any,
) -> None:
    assign_ports(namespace, [("r1", "eth1"), ("r4", "eth1"), ("r1", "eth2"), ("r4", "eth2")])
    vlan, other = random.sample([v for v in range(700, 1000) if v != 666], 2)
    movable = _service(namespace, "movable", "eth1", vlan, 8)  # r1-r2-r3-r4 is 7 ms
    stuck = _service(namespace, "stuck", "eth2", other, 2)  # only the 1 ms chord fits
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([movable, stuck]))
    for name in ("movable", "stuck"):
        wait_for(
            lambda n=name: _links(cluster, namespace, n) == ["r1-r4"],
            timeout=60,
            what=f"{name} Ready on r1-r4",
        )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
    window = unique("mw")
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Maintenance",
        "metadata": {"name": window},
        "spec": {
            "target": {"kind": "Link", "name": "r1-r4"},
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(seconds=20)).isoformat().replace("+00:00", "Z"),
            "drainBeforeS": 15,
            "returnAfter": True,
        },
    }
    ends = attachments(lab.state, movable["spec"]["endpoints"], vlan)
    with traffic.attach(*ends) as (a, b):
        wait_for(
            lambda: traffic.ping(a, b.ip, count=3, interval=0.1, timeout=0.5).reachable,
            timeout=20,
            what="the movable service carries",
        )
        stream = GapStream(a, b, pps=1000, max_seconds=120)
        stream.start()
        try:
            cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
            listed = wait_for(
                lambda: (
                    (s := _get(cluster, "", "maintenances", window).get("status", {}))
                    and s.get("cannotMove")
                    and s
                ),
                timeout=15,
                what="the services that cannot move listed",
            )
            assert datetime.now(UTC) < start - timedelta(seconds=15), "listed after draining began"
            assert listed["phase"] == "Scheduled"
            (entry,) = [c for c in listed["cannotMove"] if c["service"]["namespace"] == namespace]
            assert entry["service"]["name"] == "stuck"
            assert entry["reason"].startswith("degraded:") and "2 ms bound" in entry["reason"]
            wait_for(
                lambda: (
                    "r1-r4" not in _links(cluster, namespace, "movable")
                    and _links(cluster, namespace, "movable")
                ),
                timeout=40,
                what="movable drained off r1-r4",
            )
            assert datetime.now(UTC) < start, "drained only after the window opened"
            time.sleep(2.0)  # the measurement window: traffic keeps flowing after the move
            result = stream.stop()
        finally:
            stream.__exit__(None, None, None)
    print(f"\nmaintenance drain of r1-r4: {result.summary()}")
    record_property("drain_gap_ms", round(result.gap_ms))
    record_property("drain_lost", result.lost)
    assert result.restored, result.summary()
    # Whatever was lost went in the one switch-over (the transaction's commit on the
    # devices), never before it while the window was announced nor after it; the goal of
    # zero is not met yet: see docs/operations.md, "Planned maintenance".
    assert result.lost == result.gap_lost, result.summary()
    assert _links(cluster, namespace, "stuck") == ["r1-r4"]  # left where it is
    drained = _get(cluster, "", "maintenances", window)["status"]["drained"]
    assert {"kind": "NetworkService", "name": "movable", "namespace": namespace} in drained

    # In the window the link goes down: its alarm is raised, expected, and opens no ticket.
    wait_for(
        lambda: (
            _get(cluster, "", "maintenances", window).get("status", {}).get("phase") == "InProgress"
        ),
        timeout=40,
        what="window open",
    )
    tickets = _tickets(operator)
    lab.link("r1", "r4", up=False)
    try:
        alarm = wait_for(
            lambda: (
                (a := _alarm(cluster, INFRA, "link-r1-r4-linkdown"))
                and a.get("status", {}).get("state") == "active"
                and a
            ),
            timeout=20,
            what="link-down alarm raised",
        )
        assert alarm["status"]["expected"] is True
        assert alarm["status"]["maintenanceRef"] == {"kind": "Maintenance", "name": window}
        assert _tickets(operator) == tickets
    finally:
        lab.link("r1", "r4", up=True)
    # After the window, the drained service returns to its best route.
    wait_for(
        lambda: _links(cluster, namespace, "movable") == ["r1-r4"],
        timeout=60,
        what="movable back on r1-r4 after the window",
    )
    assert _get(cluster, "", "maintenances", window)["status"]["phase"] == "Completed"
    cluster.kubectl("delete", "maintenance", window)


def _alarm(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    import kubernetes

    try:
        return _get(cluster, ns, "alarms", name)
    except kubernetes.client.ApiException:
        return None
