"""Failover: two operator replicas with kopf peering; the active one is SIGKILLed.

Run from the repository root:  python -m benchmarks.ha [--runs 5]

Each run kills the active replica and at the same moment creates a new NetworkService;
the failover time is until that service is Ready (so it includes the standby noticing the
peer is gone — kopf peering lifetime, 10 s by default here — resuming, and provisioning).
The floor beside it: the same create → Ready with a healthy active replica.
A new standby (lower priority) is started after each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import yaml

from benchmarks import harness
from intentloop_lab import controlplane

GROUP, VERSION = harness.GROUP, harness.VERSION


def _replica(s: harness.Stack, priority: int) -> subprocess.Popen[bytes]:
    roots = os.pathsep.join(
        str(harness.REPO / d) for d in ("operator", "intents", "adapters", "lab")
    )
    port = controlplane.free_port()
    log = open(s.root / f"replica-{priority}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intentloop_operator",
            "operator",
            "--kubeconfig",
            str(s.cp.kubeconfig),
            "--metrics-port",
            str(port),
            "--peering",
            "intentloop",
            "--priority",
            str(priority),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": roots},
    )
    log.close()
    return proc


def _create_and_wait(s: harness.Stack, name: str) -> float:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": "bench-ha"},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r3", "interface": "eth1"},
            ],
            "bandwidthMbps": 1,
        },
    }
    t0 = time.perf_counter()
    s.kubectl("apply", "-f", "-", input=yaml.safe_dump(body))

    def ready() -> Any:
        obj = s.api.get_namespaced_custom_object(
            GROUP, VERSION, "bench-ha", "networkservices", name
        )
        return obj.get("status", {}).get("phase") == "Ready"

    harness.wait(ready, 120, f"{name} Ready", 0.05)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    failovers, healthy = [], []
    with harness.stack() as s:
        assert s.operator is not None
        s.operator.terminate()  # the stack's standalone operator makes way for two replicas
        s.operator.wait(15)
        s.kubectl("apply", "-f", str(harness.REPO / "manifests" / "kopf-peering.yaml"))
        s.kubectl("wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")
        s.tenant("bench-ha")
        priority = 1000
        active = _replica(s, priority)
        time.sleep(3)
        standby = _replica(s, priority - 1)
        time.sleep(5)
        for i in range(args.runs):
            healthy.append(_create_and_wait(s, f"warm-{i}"))
            active.kill()
            active.wait()
            failovers.append(_create_and_wait(s, f"failover-{i}"))
            priority -= 2
            active, standby = standby, _replica(s, priority - 1)
            time.sleep(5)
        for proc in (active, standby):
            proc.terminate()
            proc.wait(15)
    result = {
        "runs": args.runs,
        "failover_s": {"median": statistics.median(failovers), "all": failovers},
        "healthy_create_to_ready_s": {"median": statistics.median(healthy), "all": healthy},
    }
    floor = result["healthy_create_to_ready_s"]["median"]
    table = (
        "| measure | median (s) |\n|---|---:|\n"
        f"| failover: active killed → new service Ready | {result['failover_s']['median']:.1f} |\n"
        f"| floor: create → Ready, healthy | {floor:.2f} |\n"
        "\nTarget: failover ≤ 15 s.\n"
    )
    harness.write("ha", result, table, f"python -m benchmarks.ha --runs {args.runs}")
    print(table)


if __name__ == "__main__":
    main()
