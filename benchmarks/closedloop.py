"""MTTR: from `lab link down` to every affected service Ready again on a new path.

Run from the repository root:  python -m benchmarks.closedloop [--sizes 1 10 100] [--runs 5]

N services from r1 to r2 all start on the direct link r1-r2. Each run fails the first link
their current path uses (via the lab's control socket, as `intentloop lab link down` does),
measures until all N are Ready on paths avoiding it, then restores the link. The floor
beside it: the re-path transactions alone — the summed `durationMs` of the Transaction
records written by that run (they touch the same devices, so they cannot overlap).
Detection (telemetry ON_CHANGE) and the Kubernetes writes are the difference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from typing import Any

import yaml

from benchmarks import harness
from intentloop_lab import control

GROUP, VERSION = harness.GROUP, harness.VERSION
PORTS = ("eth1", "eth2")


def _services(ns: str, count: int) -> str:
    docs = [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NetworkService",
            "metadata": {"name": f"s-{i:03d}", "namespace": ns},
            "spec": {
                "endpoints": [
                    {"device": "r1", "interface": PORTS[i % 2]},
                    {"device": "r2", "interface": PORTS[(i // 2) % 2]},
                ],
                "bandwidthMbps": 1,
            },
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs)


def _items(s: harness.Stack, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = s.api.list_namespaced_custom_object(
        GROUP, VERSION, ns, "networkservices"
    )["items"]
    return items


def _all_off(s: harness.Stack, ns: str, count: int, link: str) -> bool:
    items = _items(s, ns)
    ok = [
        o
        for o in items
        if o.get("status", {}).get("phase") == "Ready"
        and link not in o["status"].get("pathLinks", [])
    ]
    return len(ok) == count


def _floor_ms(s: harness.Stack, since: datetime) -> float:
    total = 0.0
    for ns in ("bench-mttr", "intentloop-system"):
        for t in s.api.list_namespaced_custom_object(GROUP, VERSION, ns, "transactions")["items"]:
            created = datetime.fromisoformat(
                t["metadata"]["creationTimestamp"].replace("Z", "+00:00")
            )
            if created >= since:
                total += float(t.get("status", {}).get("durationMs") or 0)
    return total


def run_size(s: harness.Stack, count: int, runs: int) -> dict[str, Any]:
    assert s.lab is not None
    ns = "bench-mttr"
    s.kubectl("delete", "namespace", ns, "--ignore-not-found", "--timeout=300s")
    s.tenant(ns)
    s.kubectl("apply", "-f", "-", input=_services(ns, count))
    harness.wait(lambda: _all_off(s, ns, count, "none"), 300, f"{count} services Ready", 0.2)
    mttr, floors = [], []
    for _ in range(runs):
        link = _items(s, ns)[0]["status"]["pathLinks"][0]
        a, b = link.split("-")
        time.sleep(2.5)  # past the damper's hold-down from the previous run
        since = datetime.now().astimezone().replace(microsecond=0)
        t0 = time.perf_counter()
        control.call(s.lab.socket, control.LinkAdmin(a=a, b=b, up=False))
        harness.wait(lambda lk=link: _all_off(s, ns, count, lk), 120, "re-pathed", 0.02)
        mttr.append((time.perf_counter() - t0) * 1000)
        time.sleep(1)  # the audit records are written just after the change
        floors.append(_floor_ms(s, since))
        control.call(s.lab.socket, control.LinkAdmin(a=a, b=b, up=True))
        time.sleep(1)
    s.kubectl("delete", "networkservices", "--all", "-n", ns, "--timeout=300s")
    return {
        "services": count,
        "runs": runs,
        "mttr_ms": {"median": statistics.median(mttr), "all": mttr},
        "floor_ms": {"median": statistics.median(floors), "all": floors},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    with harness.stack() as s:
        for size in args.sizes:
            results.append(run_size(s, size, args.runs))
    table = "| services | MTTR median (ms) | floor: re-path transactions (ms) |\n|---:|---:|---:|\n"
    for r in results:
        table += (
            f"| {r['services']} | {r['mttr_ms']['median']:.0f} | {r['floor_ms']['median']:.0f} |\n"
        )
    table += "\nTarget: 100 services ≤ 5000 ms.\n"
    sizes = " ".join(map(str, args.sizes))
    cmd = f"python -m benchmarks.closedloop --sizes {sizes} --runs {args.runs}"
    harness.write("closedloop", {"results": results}, table, cmd)
    print(table)


if __name__ == "__main__":
    main()
