"""Dry runs: `intentloop plan -f` shows each device's native diff and touches no device."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from intentloop_intents import compilation
from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, running_config


@pytest.mark.e2e
def test_plan_shows_per_device_diffs_without_touching_any_device(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    namespace: str,
    tmp_path: Path,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r1", "eth2"), ("r3", "eth2")])
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    service: dict[str, Any] = {
        "apiVersion": "intentloop.io/v1alpha1",
        "kind": "NetworkService",
        "metadata": {"name": "planned", "namespace": namespace},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth2"},
                {"device": "r3", "interface": "eth2"},
            ],
            "bandwidthMbps": 7,
        },
    }
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(service))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "intentloop_operator",
            "plan",
            "-f",
            str(path),
            "--kubeconfig",
            str(cluster.kubeconfig),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=operator.env,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"NetworkService {namespace}/planned: Planned" in out.stdout
    assert "## r1" in out.stdout and "## r3" in out.stdout
    assert f"pol-{namespace}.planned" in out.stdout  # the policer the change would add
    owner = f"{namespace}/planned"
    # Compare only what this test owns: other tests' clean-ups may still be changing the
    # owner sets of shared items (a core port losing an owner is a different item), so
    # "nothing changed at all" is not ours to assert. Nothing of the plan may be on a device,
    # and no item the plan would add (its VLAN sub-interfaces, its policer) may be there.
    found = re.search(r"Planned — path \S+, vlan (\d+)/(\d+)", out.stdout)
    assert found, out.stdout
    instance = compilation.l2_instance_name(owner)
    for router in lab.state.routers:
        after = running_config(lab, router.name)
        items = (*after.interfaces, *after.vlans, *after.policers, *after.subinterfaces)
        assert not any(owner in item.owners for item in items), router.name
        assert f"pol-{namespace}.planned" not in {p.name for p in after.policers}, router.name
        ours = [s.name for s in after.subinterfaces if s.l2_instance == instance]
        assert not ours, f"{router.name} carries the planned service: {ours}"
    assert "planned" not in cluster.kubectl("get", "allocations").stdout
    assert "plan-" not in cluster.kubectl("get", "transactions", "-n", namespace).stdout
