"""Dry runs: `intentloop plan -f` shows each device's native diff and touches no device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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
    before = {r.name: running_config(lab, r.name) for r in lab.state.routers}
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
    for router in lab.state.routers:  # nothing was pushed, nothing was kept
        after = running_config(lab, router.name)
        items = (*after.interfaces, *after.vlans, *after.policers, *after.subinterfaces)
        assert not any(owner in item.owners for item in items), router.name
        # what other tests' services leave behind may still be going away meanwhile (their
        # owners leave shared items); nothing may have been added
        was = before[router.name]
        kept = (*was.interfaces, *was.vlans, *was.policers, *was.subinterfaces)
        assert {_unowned(i) for i in items} <= {_unowned(i) for i in kept}, router.name
    assert "planned" not in cluster.kubectl("get", "allocations").stdout
    assert "plan-" not in cluster.kubectl("get", "transactions", "-n", namespace).stdout


def _unowned(item: Any) -> Any:
    """An item as configured, whoever owns it."""
    return item.model_copy(update={"owners": frozenset()})
