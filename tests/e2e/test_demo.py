"""`make demo` and `make demo-down`, the README's first command, run as a newcomer runs them.

The demo brings up a control plane, a lab and an operator of its own (under
INTENTLOOP_STATE_DIR, so it never meets the suite's), applies the examples, fails a link and
repairs it; `make demo-down` removes all of it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO


def make(target: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INTENTLOOP_STATE_DIR": str(state)}
    env.pop("KUBECONFIG", None)
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.e2e
def test_make_demo_realises_the_examples_fails_a_link_and_demo_down_removes_it(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    try:
        up = make("demo", state)
        log = (up.stdout + up.stderr)[-8000:]
        assert up.returncode == 0, log
        services = [
            line for line in up.stdout.splitlines() if "networkservice.intentloop.io/" in line
        ]
        assert len(services) == 4 and all(" Ready " in s for s in services), log
        assert "linkDown" in up.stdout and "serviceImpacted" in up.stdout, log
        # proven by traffic: each service's sites reach each other and carry a UDP stream,
        # and the failure shows as a gap that ends
        said = up.stdout + up.stderr
        examples = (
            "tenant-a/camera-uplink",
            "tenant-a/robots-control",
            "tenant-b/branch-link",
            "tenant-b/branch-vpn",  # an l3vpn: its sites route through their gateways
        )
        for name in examples:
            line = next((x for x in said.splitlines() if x.strip().startswith(f"{name} (")), "")
            assert ": ping 3/3" in line and "Mbps offered" in line, line or log
        gaps = [x for x in said.splitlines() if ": traffic gap " in x]
        assert gaps and all(x.endswith("flowing again") for x in gaps), log
        # the planned maintenance of the busiest link: drained, or listed as cannot move
        window = next(x for x in up.stdout.splitlines() if x.startswith("demo-maintenance"))
        assert any(p in window for p in ("Scheduled", "Draining", "InProgress")), log
        assert "camera-uplink" in window, log  # on the busiest link: drained or listed
        assert "planned maintenance of link" in up.stderr, log
        for picture in ("topology-before.svg", "topology-after.svg"):
            assert (state / picture).read_text().lstrip().startswith("<"), picture
    finally:
        down = make("demo-down", state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (state / "lab" / "lab.json").exists(), "the demo's lab is gone"
    assert not (state / "cluster" / "kubeconfig").exists(), "the demo's control plane is gone"
