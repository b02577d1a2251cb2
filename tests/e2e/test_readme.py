"""The README's command sequences work as written, on a control plane and lab of their own.

A newcomer copies these lines into a shell; if one of them fails (a missing step, a renamed
flag) the README is wrong, whatever the rest of the suite says. The blocks are taken from
README.md itself, so a change there is tested without anyone having to remember to.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Cluster

README = REPO / "README.md"


def shell_block_after(heading: str) -> str:
    """The first ```sh block below `heading` in README.md."""
    text = README.read_text()
    start = text.index(heading)
    match = re.search(r"```sh\n(.*?)```", text[start:], flags=re.S)
    assert match is not None, f"no sh block after {heading!r}"
    return match.group(1)


def command_line(prefix: str) -> str:
    """The one README line (in any block) that starts with `prefix`."""
    lines = [line for line in README.read_text().splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"README has {len(lines)} lines starting with {prefix!r}"
    return lines[0]


@pytest.mark.e2e
def test_the_pieces_block_brings_everything_up_and_fails_a_link(tmp_path: Path) -> None:
    pieces = shell_block_after("## The pieces, one by one")
    *steps, teardown = [line for line in pieces.splitlines() if line.strip()]
    assert teardown.startswith("kill %1"), "the block ends by stopping what it started"
    render = command_line(".venv/bin/intentloop topology render")
    plan = command_line(".venv/bin/intentloop plan -f")
    # the what-if exits 1 when an SLA would be violated: its answer, not a failure of the step
    whatif = command_line(".venv/bin/intentloop plan --down") + ' || echo "what-if: exit $?"'
    traffic = [
        line
        for line in shell_block_after("Prove a service by traffic").splitlines()
        if line.strip()
    ]
    picture = tmp_path / "topology.svg"
    # Run as written; the teardown line also runs if a step fails, so nothing is left behind.
    script = "\n".join(
        [
            "set -euxo pipefail",
            "trap 'set +e; " + teardown.replace("'", "'\\''") + "' EXIT",
            *steps,
            render.replace("topology.svg", str(picture)),
            plan,  # an upgrade of a running service, planned before anyone applies it
            *traffic,  # reachability, rate and gap through camera-uplink, as written
            whatif,
        ]
    )
    state = tmp_path / "state"
    env = {**os.environ, "INTENTLOOP_STATE_DIR": str(state)}
    env.pop("KUBECONFIG", None)
    out = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    log = (out.stdout + out.stderr)[-6000:]
    assert out.returncode == 0, log
    assert "link.intentloop.io/r1-r2 condition met" in out.stdout, log
    assert "# NetworkService tenant-a/camera-uplink: Planned" in out.stdout, log
    assert "## r2" in out.stdout and "## r5" in out.stdout, log  # what each end would get
    assert len(traffic) == 3 and "delivered" in out.stdout and "gap" in out.stdout, log
    assert "ping r3/eth2 vlan 310 -> r6/eth2 vlan 310: 5/5 replies" in out.stdout, log  # l3vpn
    whatif_out = out.stdout.split("# if down: link r1-r4", 1)
    assert len(whatif_out) == 2, log
    assert "tenant-a/robots-control" in whatif_out[1], log  # r1-r4 carries it
    r2 = out.stdout.split("## r2", 1)[1].split("##", 1)[0]
    assert "300" in r2 and "rate" in r2, log  # the policer's new rate, and only that
    svg = picture.read_text()
    assert svg.lstrip().startswith("<") and "r1-r2" in svg, "the picture shows the network"
    assert not (state / "lab" / "lab.json").exists(), "the lab is down"
    assert not (state / "cluster").exists(), "the control plane is down and purged"


@pytest.mark.e2e
def test_the_admission_example_is_refused_as_the_readme_shows(cluster: Cluster) -> None:
    """The README's bad Link, against the suite's cluster: the error it prints is the real one."""
    text = README.read_text()
    block = text[text.index("$ kubectl apply -f - <<< '") :]
    block = block[: block.index("```")]
    command, _, rest = block.partition("\nThe Link")
    document = command[command.index("'") + 1 : command.rindex("'")]
    expected = [line.strip() for line in ("The Link" + rest).splitlines() if line.strip()]
    out = cluster.kubectl("apply", "-f", "-", input=document, check=False)
    assert out.returncode != 0
    for line in expected:
        assert line in out.stderr, f"README shows {line!r}; kubectl said:\n{out.stderr}"
