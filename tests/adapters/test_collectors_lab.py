"""Collector processes against the real lab: gNMI over TLS from the lab's routers, decoded in
two collector processes, applied to the operator's Runtime; a link failed with the lab's
own command line shows up in the topology, and its repair too."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from intentloop_adapters.factory import Credentials
from intentloop_lab import inventory, labstate
from intentloop_operator import collectors, telemetry
from intentloop_operator.runtime import Runtime

pytestmark = pytest.mark.lab

# Named so that, with two collectors, r3 and r4 share one and r5 has the other: link r4-r5
# is reported by both collectors.
TOPOLOGY = """
name: split
routers:
  - {name: r3, platform: netconf}
  - {name: r4, platform: gnmi}
  - {name: r5, platform: netconf}
links:
  - {a: r3, b: r4, capacityMbps: 1000, latencyMs: 2}
  - {a: r4, b: r5, capacityMbps: 1000, latencyMs: 3}
  - {a: r5, b: r3, capacityMbps: 1000, latencyMs: 4}
"""


def lab_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "intentloop_lab", "lab", *args, "--state-dir", str(state_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labstate.LabState]:
    tmp = tmp_path_factory.mktemp("collectors-lab")
    (tmp / "topology.yaml").write_text(TOPOLOGY)
    done = lab_cli(tmp / "state", "up", "--topology", str(tmp / "topology.yaml"))
    assert done.returncode == 0, done.stderr
    state = labstate.read_state(tmp / "state")
    assert state is not None
    yield state
    lab_cli(state.state_dir, "down")


def credentials(router: labstate.RouterInfo, state: labstate.LabState) -> Credentials:
    """What the operator would read from the router's Secrets."""
    creds = Credentials(
        gnmi_username=router.gnmi.username,
        gnmi_password=router.gnmi.password_file.read_text().strip(),
        gnmi_ca_pem=state.ca_file.read_text(),
    )
    if router.netconf is not None:
        creds.netconf_username = router.netconf.username
        creds.netconf_private_key = router.netconf.private_key_file.read_text()
    return creds


async def until(predicate: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        await asyncio.sleep(0.02)


async def test_a_failed_link_reaches_the_runtime_through_two_collectors(
    lab: labstate.LabState,
) -> None:
    docs = inventory.documents(lab)
    devices = [d for d in docs if d["kind"] == "Device"]
    rt = Runtime()
    rt.load(
        devices=devices,
        links=[d for d in docs if d["kind"] == "Link"],
        device_configs=[],
        slices=[],
        services=[],
    )
    assert {collectors.assign(d["metadata"]["name"], 2) for d in devices} == {0, 1}
    pool = collectors.CollectorPool(2, apply=functools.partial(telemetry.ingest_batch, rt))
    pool.start()
    streams = [
        asyncio.create_task(
            pool.stream(
                d["metadata"]["name"],
                d["spec"],
                credentials(lab.router(d["metadata"]["name"]), lab),
                telemetry.PATHS,
            )
        )
        for d in devices
    ]

    def oper(link: str) -> bool | None:
        state = rt.topology.link(link)
        return state.oper_up if state is not None and len(rt.link_ends.get(link, {})) == 2 else None

    try:
        # Every router's stream is up and both ends of every link have reported.
        await until(lambda: all(oper(n) is True for n in ("r3-r4", "r4-r5", "r5-r3")))
        assert all(rt.topology.link(n).measured_latency_ms for n in ("r3-r4", "r4-r5"))  # type: ignore[union-attr]
        assert lab_cli(lab.state_dir, "link", "down", "r4", "r5").returncode == 0
        await until(lambda: oper("r4-r5") is False)
        assert rt.link_ends["r4-r5"] == {"r4": False, "r5": False}  # seen by both collectors
        assert oper("r3-r4") is True and oper("r5-r3") is True
        assert "r4-r5" in rt.links_dirty  # the Link status writer will publish it
        assert lab_cli(lab.state_dir, "link", "up", "r4", "r5").returncode == 0
        await until(lambda: oper("r4-r5") is True)
        assert not any(s.done() for s in streams), [s.exception() for s in streams if s.done()]
    finally:
        for s in streams:
            s.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        await pool.close()
