"""`intentloop plan --down`: the blast radius of a failure, read from the API server,
touching nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, lab_ports, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _service(ns: str, name: str, port: str, bound: float) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": "r1", "interface": port}, {"device": "r4", "interface": port}],
            "bandwidthMbps": 5,
            "sla": {"maxLatencyMs": bound},
        },
    }


def _plan(cluster: Cluster, operator: Operator, *down: str) -> tuple[int, dict[str, Any]]:
    argv = [sys.executable, "-m", "intentloop_operator", "plan", "-o", "json"]
    for element in down:
        argv += ["--down", element]
    argv += ["--kubeconfig", str(cluster.kubeconfig)]
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=operator.env, check=False
    )
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return out.returncode, json.loads(out.stdout)


@pytest.mark.e2e
def test_the_blast_radius_of_a_link_and_a_device_lists_services_tenants_and_slas(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, lab_ports(lab))
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    docs = [_service(namespace, "roomy", "eth1", 8), _service(namespace, "tight", "eth2", 3)]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def ready() -> list[dict[str, Any]] | None:
        items = cluster.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "networkservices"
        )["items"]
        done = [i for i in items if i.get("status", {}).get("phase") == "Ready"]
        return items if len(done) == 2 else None

    before = wait_for(ready, timeout=30, what="both services Ready")
    assert all(i["status"]["pathLinks"] == ["r1-r4"] for i in before)

    code, link = _plan(cluster, operator, "link/r1-r4")
    ours = {s["name"]: s for s in link["services"] if s["namespace"] == namespace}
    assert ours["roomy"]["fate"] == "moves" and ours["roomy"]["latencyMs"] <= 8
    assert ours["tight"]["fate"] == "degraded" and ours["tight"]["slaViolated"]
    assert "3 ms bound" in ours["tight"]["detail"]
    assert namespace in link["tenants"] and code == 1  # an SLA would be violated

    _, device = _plan(cluster, operator, "device/r4")
    assert set(device["down"]["links"]) >= {"r1-r4", "r3-r4", "r4-r5"}
    ours = {s["name"]: s for s in device["services"] if s["namespace"] == namespace}
    assert {n: s["fate"] for n, s in ours.items()} == {"roomy": "down", "tight": "down"}
    assert ours["roomy"]["detail"] == "its endpoint device r4 is down"

    # Nothing was touched: the services, the link and the transactions are as they were.
    after = ready()
    assert after is not None
    versions = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in before}
    assert {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in after} == versions
    r14 = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "links", "r1-r4")
    assert r14["status"]["operState"] == "up"


@pytest.mark.e2e
def test_an_unknown_element_is_refused_by_name(cluster: Cluster, operator: Operator) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "intentloop_operator",
            "plan",
            "--down",
            "link/r9-r1",
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=operator.env,
        check=False,
    )
    assert out.returncode == 2 and "no link r9-r1" in out.stderr, out.stdout + out.stderr
