"""Ahead of faults, end to end: a link's latency rises in steps in the lab, telemetry
feeds the forecast, and the service is moved before its SLA bound is crossed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from intentloop_lab import control
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, lab_ports, wait_for
from tests.e2e.test_closed_loop import AlarmRecorder

GROUP, VERSION = "intentloop.io", "v1alpha1"
INFRA = "intentloop-system"
BOUND_MS = 8
STEP_S = 2.0  # +1 ms on r1-r4 every 2 s: 0.5 ms/s


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


@pytest.fixture(autouse=True)
def ports(lab: Lab, namespace: str, assign_ports: AssignPorts) -> None:
    assign_ports(namespace, lab_ports(lab))


@pytest.fixture
def alarms_seen(cluster: Cluster) -> Iterator[AlarmRecorder]:
    rec = AlarmRecorder(cluster)
    yield rec
    rec.stop()


def _svc(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name)


def _moved(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    obj = _svc(cluster, ns, name)
    status = obj.get("status", {})
    if status.get("phase") == "Ready" and "r1-r4" not in status.get("pathLinks", []):
        return obj
    return None


@pytest.mark.e2e
def test_a_latency_rising_in_steps_moves_the_service_before_its_bound_is_crossed(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, alarms_seen: AlarmRecorder
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": "ahead", "namespace": namespace},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r4", "interface": "eth1"},
            ],
            "bandwidthMbps": 5,
            "sla": {"maxLatencyMs": BOUND_MS},
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    ready = wait_for(
        lambda: (
            (o := _svc(cluster, namespace, "ahead")).get("status", {}).get("phase") == "Ready" and o
        ),
        timeout=30,
        what="service Ready",
    )
    assert ready["status"]["pathLinks"] == ["r1-r4"], ready["status"]
    moved_at: int | None = None
    try:
        # r1-r4 is 1 ms: the bound is crossed once 7 ms or more are added
        for extra in range(1, 12):
            lab.call(control.LinkLatency(a="r1", b="r4", extra_ms=float(extra)))
            deadline = time.monotonic() + STEP_S
            while time.monotonic() < deadline and moved_at is None:
                if _moved(cluster, namespace, "ahead") is not None:
                    moved_at = extra
                time.sleep(0.2)  # the steps are the scenario: poll within each one
            if moved_at is not None:
                break
    finally:
        lab.call(control.LinkLatency(a="r1", b="r4", extra_ms=0))
    assert moved_at is not None, operator.log.read_text()[-3000:]
    assert 1 + moved_at < BOUND_MS, f"moved only once {moved_at} ms were added"
    obj = _svc(cluster, namespace, "ahead")
    last = obj["status"]["remediations"][-1]
    assert last["reason"].startswith("forecast: path latency forecast to reach 8 ms")
    assert last["outcome"] == "repathed" and last["fromPath"] == ["r1", "r4"]
    assert obj["status"]["measuredLatencyMs"] <= BOUND_MS
    # The warning said when and why before the move, in the tenant's namespace and the NOC's.
    warning = wait_for(
        lambda: next(
            (
                a
                for a in alarms_seen.seen
                if a["metadata"]["namespace"] == namespace
                and a.get("status", {}).get("probableCause") == "slaBreachPredicted"
            ),
            None,
        ),
        timeout=10,
        what="a slaBreachPredicted alarm",
    )
    info = warning["status"]["crossedThresholdInformation"]
    assert info["indicatorName"] == "latencyMs" and info["thresholdValue"] == "8"
    assert info["expectedCrossingTime"]
    assert warning["status"]["perceivedSeverity"] == "warning"
    assert warning["status"]["rootCauseRef"]["name"] == "link-r1-r4-slabreachpredicted"
    infra = [
        a
        for a in alarms_seen.seen
        if a["metadata"]["namespace"] == INFRA
        and a["metadata"]["name"] == "link-r1-r4-slabreachpredicted"
    ]
    assert infra and any(
        {"namespace": namespace, "name": "ahead", "kind": "NetworkService"}
        in a.get("status", {}).get("affectedServices", [])
        for a in infra
    )
