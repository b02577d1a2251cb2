"""The operator with `--collectors 2`: telemetry decoded in two collector processes, a failed
lab link reaching Link status through them, and no collector outliving the operator."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from intentloop_lab import controlplane
from tests.e2e.conftest import Cluster, Lab, Operator, _healthy, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _collectors_of(pid: int) -> list[int]:
    """The operator's collector processes (children started by multiprocessing spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _streams_per_collector(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    pattern = r'^intentloop_collector_streams\{collector="(\d+)"\} ([0-9.]+)$'
    return {m[0]: float(m[1]) for m in re.findall(pattern, text, re.MULTILINE)}


def _oper_state(cluster: Cluster, link: str) -> str | None:
    obj = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "links", link)
    state: str | None = obj.get("status", {}).get("operState")
    return state


@pytest.mark.e2e
def test_a_link_failure_reaches_link_status_through_collector_processes(
    cluster: Cluster, lab: Lab, operator: Operator, tmp_path: Path
) -> None:
    operator.stop()  # the suite's in-process operator must not write Link status meanwhile
    port = controlplane.free_port()
    argv = list(operator.argv)
    argv[argv.index("--metrics-port") + 1] = str(port)
    argv += ["--collectors", "2"]
    log = tmp_path / "operator.log"
    with open(log, "a") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=operator.env, text=True
        )
    try:
        wait_for(lambda: _healthy(port), timeout=30, what="operator healthy")
        pids = wait_for(
            lambda: len(p := _collectors_of(proc.pid)) == 2 and p,
            timeout=20,
            what="two collector processes",
        )
        devices = len(lab.state.routers)
        wait_for(
            lambda: (s := _streams_per_collector(port)) and sum(s.values()) == devices and s,
            timeout=30,
            what=f"{devices} device streams on the collectors",
            on_fail=lambda: log.read_text()[-3000:],
        )
        assert all(n > 0 for n in _streams_per_collector(port).values())  # both have devices
        lab.link("r4", "r5", up=False)
        try:
            wait_for(
                lambda: _oper_state(cluster, "r4-r5") == "down",
                timeout=20,
                what="Link r4-r5 status down",
                on_fail=lambda: log.read_text()[-3000:],
            )
        finally:
            lab.link("r4", "r5", up=True)
        wait_for(lambda: _oper_state(cluster, "r4-r5") == "up", timeout=20, what="Link r4-r5 up")
        proc.terminate()
        proc.wait(timeout=30)
        wait_for(
            lambda: not any(_alive(p) for p in pids),
            timeout=10,
            what="collectors gone with the operator",
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        operator.start_again()
