"""What an idle fleet costs: CPU and API requests with no services, by fleet size.

Run from the repository root:  python -m benchmarks.idle [--routers 30 100] [--seconds 60]

For each size, a lab of that many gNMI routers (the generated ring of `lab_scale`) is
inventoried, the operator started, and once every Device is Ready and a warm-up has passed,
measured for `--seconds`: the share of a core used by the operator, kube-apiserver and etcd,
and the requests the API server served for intentloop's kinds, by verb and resource. The
target (scale issue): at most 10% of a core per 100 idle devices for the operator.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from benchmarks import harness, lab_scale


def measure(routers: int, seconds: float, warmup: float) -> dict[str, Any]:
    with harness.stack(topology=lab_scale.generated_topology(routers)) as s:
        assert s.operator is not None
        time.sleep(warmup)  # first probes, drift reads and subscriptions are start-up work
        pids = {"operator": s.operator.pid, **s.control_plane_pids()}
        cpu = {name: harness.cpu_seconds(pid) for name, pid in pids.items()}
        requests = s.api_requests()
        time.sleep(seconds)
        share = {
            name: round(100 * (harness.cpu_seconds(pid) - cpu[name]) / seconds, 1)
            for name, pid in pids.items()
        }
        served = harness.requests_between(requests, s.api_requests())
    return {"routers": routers, "core_pct": share, "requests": served}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routers", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args()
    results = [measure(n, args.seconds, args.warmup) for n in args.routers]
    lines = [
        f"Idle {args.seconds:g} s after a {args.warmup:g} s warm-up, no services; "
        "% of one core, and the API requests served for intentloop's kinds in the window.",
        "",
        "| routers | operator % | per 100 devices % | kube-apiserver % | etcd % | requests |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        pct = r["core_pct"]
        per100 = round(pct["operator"] * 100 / r["routers"], 1)
        asked = ", ".join(f"{k}: {v}" for k, v in r["requests"].items()) or "none"
        lines.append(
            f"| {r['routers']} | {pct['operator']} | {per100} | {pct['kube-apiserver']} | "
            f"{pct['etcd']} | {asked} |"
        )
    table = "\n".join(lines)
    print(table)
    sizes = " ".join(map(str, args.routers))
    command = (
        f"python -m benchmarks.idle --routers {sizes} --seconds {args.seconds:g} "
        f"--warmup {args.warmup:g}"
    )
    harness.write("idle", {"results": results}, table, command)


if __name__ == "__main__":
    main()
