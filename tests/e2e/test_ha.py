"""High availability: two operator processes with kopf peering; only one acts; when the
active one is killed the standby takes over and finishes the work, and no device change
is applied twice."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from intentloop_lab import controlplane
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, _healthy, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _start(op: Operator, log: Path, priority: int) -> tuple[subprocess.Popen[str], int]:
    port = controlplane.free_port()
    argv = [a for a in op.argv]
    argv[argv.index("--metrics-port") + 1] = str(port)
    argv += ["--peering", "intentloop-ha", "--priority", str(priority)]
    env = {**op.env, "INTENTLOOP_PEERING_LIFETIME": "5"}
    with open(log, "a") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
    wait_for(lambda: _healthy(port), timeout=30, what=f"operator {priority} healthy")
    return proc, port


def _peers(cluster: Cluster) -> Any:
    obj = cluster.custom.get_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", "intentloop-ha"
    )
    return obj.get("status")


def _service(ns: str, name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NetworkService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "endpoints": [
                    {"device": "r6", "interface": "eth2"},
                    {"device": "r4", "interface": "eth2"},
                ],
                "bandwidthMbps": 3,
            },
        }
    )


def _ready(cluster: Cluster, ns: str, name: str) -> Any:
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name)
    return obj if obj.get("status", {}).get("phase") == "Ready" else None


def _diffs(cluster: Cluster, namespaces: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every (device, diff) any Transaction record shows (in these namespaces)."""
    out = []
    for ns in namespaces:
        items = cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns, "transactions")
        for t in items["items"]:
            devices = t.get("status", {}).get("devices", [])
            out += [(d["device"], d["diff"]) for d in devices if d.get("diff")]
    return out


@pytest.mark.e2e
def test_the_standby_takes_over_when_the_active_operator_dies(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    tmp_path: Path,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r6", "eth2"), ("r4", "eth2")])
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "kopf-peering.yaml"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    operator.stop()  # the suite's standalone operator must not act during this test
    active = standby = None
    try:
        active, _ = _start(operator, tmp_path / "active.log", 200)
        # The standby starts once the active is on record: two replicas that both start
        # believing they are alone both begin handling, and kopf's pause that follows does
        # not always reach a watch already running (a start-up race of kopf's peering).
        wait_for(lambda: _peers(cluster), timeout=30, what="the active's peering record")
        standby, _ = _start(operator, tmp_path / "standby.log", 100)
        cluster.kubectl("apply", "-f", "-", input=_service(namespace, "before"))
        wait_for(
            lambda: _ready(cluster, namespace, "before"),
            timeout=40,
            what="Ready via the active operator",
        )
        assert "before" in (tmp_path / "active.log").read_text()
        assert "service-create" not in (tmp_path / "standby.log").read_text()
        # The audit record is written just after the change: let it land before the kill,
        # so the count below is about devices, not about a record cut short.
        wait_for(
            lambda: any(
                f"pol-{namespace}.before" in d
                for _, d in _diffs(cluster, (namespace, "intentloop-system"))
            ),
            timeout=20,
            what="the audit record of the first change",
        )

        active.kill()  # no goodbye: the standby must notice by itself
        active.wait()
        t0 = time.monotonic()
        cluster.kubectl("apply", "-f", "-", input=_service(namespace, "after"))
        wait_for(
            lambda: _ready(cluster, namespace, "after"),
            timeout=60,
            what="Ready via the standby",
            on_fail=lambda: (tmp_path / "standby.log").read_text()[-3000:],
        )
        failover = time.monotonic() - t0
        assert failover < 30, failover
        time.sleep(3)  # audit records are written just after the change
        # Every device change appears once: the service realised before the failover was
        # not pushed again by the standby (its policer shows up in exactly one diff per
        # device it crosses), and the new one was pushed once.
        diffs = _diffs(cluster, (namespace, "intentloop-system"))
        before = sorted(dev for dev, d in diffs if f"pol-{namespace}.before" in d)
        after = sorted(dev for dev, d in diffs if f"pol-{namespace}.after" in d)
        assert before == ["r4", "r6"], before  # its two ends, each changed exactly once
        assert after == ["r4", "r6"], after
    finally:
        for proc in (active, standby):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        operator.start_again()
