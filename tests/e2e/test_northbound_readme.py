"""The README's Northbound block works as written: the curl of an order completes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from intentloop_lab import controlplane
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, lab_ports
from tests.e2e.test_readme import shell_block_after


@pytest.mark.e2e
def test_the_northbound_block_orders_a_service_with_curl(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    assign_ports: AssignPorts,
    tmp_path: Path,
) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    assign_ports(namespace, lab_ports(lab))
    port = str(controlplane.free_port())
    block = shell_block_after("## Northbound").replace("tenant-a", namespace)
    block = block.replace("8443", port)
    *steps, teardown = [line for line in block.splitlines() if line.strip()]
    assert teardown.startswith("kill %%"), "the block ends by stopping what it started"
    script = "\n".join(["set -euo pipefail", "trap 'kill %% 2>/dev/null || true' EXIT", *steps])
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{Path(cluster.kubectl_bin).parent}:{os.environ['PATH']}",
    }
    out = subprocess.run(
        ["timeout", "180", "bash", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    log = (out.stdout + out.stderr)[-6000:]
    assert out.returncode == 0, log
    assert '"state": "active"' in out.stdout or '"state":"active"' in out.stdout, log
