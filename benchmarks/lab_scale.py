"""What a lab router costs: start time and memory of a 100-router lab, beside the floor.

`python -m benchmarks.lab_scale [--routers 100] [--runs 3]`

A generated topology (a ring with a chord every tenth router, gNMI routers with two customer
ports each, so 100 routers mean 300 namespaces and 310 veth pairs) is brought up with
`intentloop lab up` as a person would, timed until `lab.json` says ready, and taken down.
Beside it, the physical floor: the same namespaces and veths created bare, in one
`ip -batch`. Memory is the daemon's resident set (every gNMI target lives in it) plus its
children, and the kernel's share as the drop in MemAvailable (noisy on a shared machine:
read it as an order of magnitude). The default 6-router lab is timed too. Medians of
`--runs`; results go to benchmarks/results/lab-scale.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from intentloop_lab import labstate, lifecycle, netplan
from intentloop_lab.topology import default_topology, dump_topology

RESULTS = Path(__file__).parent / "results"


def generated_topology(routers: int) -> str:
    names = [f"r{i}" for i in range(routers)]
    links = [
        {"a": names[i], "b": names[(i + 1) % routers], "capacityMbps": 1000, "latencyMs": 1}
        for i in range(routers)
    ]
    links += [
        {
            "a": names[i],
            "b": names[(i + routers // 2) % routers],
            "capacityMbps": 400,
            "latencyMs": 5,
        }
        for i in range(0, routers // 2, 10)
    ]
    body = {
        "name": f"scale-{routers}",
        "routers": [{"name": n, "platform": "gnmi", "ports": ["eth1", "eth2"]} for n in names],
        "links": links,
    }
    return yaml.safe_dump(body, sort_keys=False)


def mem_available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def lab_run(topology_yaml: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="il-bench-") as tmp:
        path = Path(tmp) / "topology.yaml"
        path.write_text(topology_yaml)
        state_dir = Path(tmp) / "state"
        before = mem_available_kb()
        started = time.perf_counter()
        lifecycle.start(state_dir, path)
        seconds = time.perf_counter() - started
        state = labstate.read_state(state_dir)
        assert state is not None
        time.sleep(1)  # let the first ticks settle before reading memory
        daemon = rss_kb(state.daemon_pid)
        children = sum(rss_kb(pid) for r in state.routers for pid in r.pids)
        kernel_drop = before - mem_available_kb()
        namespaces = len(state.routers) + len(state.sites)
        lifecycle.stop(state_dir)
        return {
            "start_s": seconds,
            "daemon_rss_mb": daemon / 1024,
            "children_rss_mb": children / 1024,
            "mem_available_drop_mb": kernel_drop / 1024,
            "namespaces": namespaces,
        }


def floor_run(topology_yaml: str) -> dict[str, float]:
    """The same namespaces and veths, bare: one `ip -batch`, then deleted."""
    from intentloop_lab.topology import parse_topology

    plan = netplan.plan_lab(parse_topology(topology_yaml), netplan.new_lab_id())
    lines = [f"netns add {n}" for n in plan.namespaces()]
    for link in plan.links:
        lines.append(
            f"link add {link.a.kernel} netns {link.a.netns} type veth "
            f"peer name {link.b.kernel} netns {link.b.netns}"
        )
    for site in plan.sites:
        lines.append(
            f"link add {site.router_end.kernel} netns {site.router_end.netns} type veth "
            f"peer name port0 netns {site.site_end.netns}"
        )
    before = mem_available_kb()
    started = time.perf_counter()
    subprocess.run(["ip", "-batch", "-"], input="\n".join(lines), text=True, check=True)
    seconds = time.perf_counter() - started
    drop = before - mem_available_kb()
    subprocess.run(
        ["ip", "-force", "-batch", "-"],
        input="\n".join(f"netns del {n}" for n in plan.namespaces()),
        text=True,
        check=False,
    )
    return {"start_s": seconds, "mem_available_drop_mb": drop / 1024}


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}


def render(result: dict[str, Any]) -> str:
    big, floor, small = result["lab"], result["floor"], result["default_lab"]
    n = result["routers"]
    rows = [
        f"| {n}-router lab (`lab up` until ready) | {big['start_s']:.2f} | "
        f"{big['daemon_rss_mb']:.0f} + {big['children_rss_mb']:.0f} | "
        f"{big['mem_available_drop_mb']:.0f} |",
        f"| floor: {int(big['namespaces'])} bare namespaces + veths (one `ip -batch`) | "
        f"{floor['start_s']:.2f} | - | {floor['mem_available_drop_mb']:.0f} |",
        f"| default 6-router lab (3 netconfd + 3 gNMI) | {small['start_s']:.2f} | "
        f"{small['daemon_rss_mb']:.0f} + {small['children_rss_mb']:.0f} | "
        f"{small['mem_available_drop_mb']:.0f} |",
    ]
    per_router_ms = 1000 * big["start_s"] / n
    per_router_mb = (big["daemon_rss_mb"] + big["children_rss_mb"]) / n
    return "\n".join(
        [
            "# Lab scale: what a router costs",
            "",
            "Command: `python -m benchmarks.lab_scale`  ",
            f"Machine: {result['machine']}",
            "",
            f"Medians of {result['runs']} runs. Routers are gNMI-only (one in-process target",
            "each), two customer sites per router, a ring with a chord every tenth router.",
            "",
            "| what | start s | RSS MB (daemon + children) | MemAvailable drop MB |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"Per router at {n}: {per_router_ms:.0f} ms of start-up and {per_router_mb:.1f} MB of",
            "process memory (three namespaces: the router and its two sites). The MemAvailable",
            "drop is the whole machine's and is shared with other work: read it as a magnitude.",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.lab_scale")
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    big = generated_topology(args.routers)
    small = dump_topology(default_topology())
    result = {
        "routers": args.routers,
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, CPython "
        f"{platform.python_version()}, kernel {platform.release()}, load average at start "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "lab": medians([lab_run(big) for _ in range(args.runs)]),
        "floor": medians([floor_run(big) for _ in range(args.runs)]),
        "default_lab": medians([lab_run(small) for _ in range(args.runs)]),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lab-scale.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "lab-scale.md").write_text(render(result))
    sys.stdout.write(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
