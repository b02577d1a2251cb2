"""MTTR as the customers see it: the traffic gap at the sites when a link under N services fails.

Run from the repository root, as root (it enters the lab's namespaces):
    python -m benchmarks.closedloop_traffic [--sizes 1 10 100] [--runs 5]

N L2 services from r1 to r2 (ports alternated, so four customer sites), each carrying a
sequence-numbered probe flow (`intentloop_lab.traffic_gap.GapStreams`; 4,000 packets/s in
all, so the gap's resolution is 1/(packets per flow per second)). Each run fails the link
that carries most of them (`lab link down`: the veth goes down, both routers see carrier
loss), lets the controller re-path, keeps streaming two more seconds after the last
affected service is Ready off that link, then restores the link. Per run:
- traffic gap: the longest interruption of each affected flow (loss-based, from the
  senders' timestamps); a flow still not delivering at the end counts its whole tail;
- the controller's share: link down → every affected service Ready on a path avoiding the
  link, as the API server shows it (detection by telemetry + planning + transactions +
  status writes);
- the floor: the re-path transactions alone (summed `durationMs` of the Transactions the
  run wrote; they touch the same devices, so they cannot overlap).
What the gap holds beyond the controller's share is the data plane's: the lab agent
applying the new running config to the kernels, and the flows' own resolution.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import yaml

from benchmarks import harness
from benchmarks.closedloop import _floor_ms
from intentloop_lab import control, traffic
from intentloop_lab.traffic_cli import service_attachments
from intentloop_lab.traffic_gap import GapResult, GapStreams

GROUP, VERSION = harness.GROUP, harness.VERSION
NS = "bench-mttr"  # the namespace closedloop's floor reads Transactions from
PORTS = ("eth1", "eth2")
TOTAL_PPS = 4000
AFTER_READY_S = 2.0


def _services(count: int) -> str:
    docs = [
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NetworkService",
            "metadata": {"name": f"s-{i:03d}", "namespace": NS},
            "spec": {
                "endpoints": [
                    {"device": "r1", "interface": PORTS[i % 2]},
                    {"device": "r2", "interface": PORTS[(i // 2) % 2]},
                ],
                "bandwidthMbps": 5,
            },
        }
        for i in range(count)
    ]
    return yaml.safe_dump_all(docs)


def _items(s: harness.Stack) -> list[dict[str, Any]]:
    items = s.api.list_namespaced_custom_object(GROUP, VERSION, NS, "networkservices")["items"]
    return sorted(items, key=lambda o: o["metadata"]["name"])


def _ready_off(s: harness.Stack, names: set[str], link: str | None) -> bool:
    ok = {
        o["metadata"]["name"]
        for o in _items(s)
        if o.get("status", {}).get("phase") == "Ready"
        and link not in o["status"].get("pathLinks", [])
    }
    return names <= ok


def _busiest_link(items: list[dict[str, Any]]) -> tuple[str, set[str]]:
    users: dict[str, set[str]] = {}
    for o in items:
        for link in o["status"].get("pathLinks", []):
            users.setdefault(link, set()).add(o["metadata"]["name"])
    link = max(sorted(users), key=lambda k: len(users[k]))
    return link, users[link]


def _outage_ms(r: GapResult) -> float:
    return r.gap_ms if r.restored else max(r.gap_ms, r.tail_ms)


def one_run(s: harness.Stack, pairs: dict[str, tuple[Any, Any]], pps: int) -> dict[str, Any]:
    assert s.lab is not None
    link, affected = _busiest_link(_items(s))
    info = next(x for x in s.lab.links if x.name == link)
    time.sleep(2.5)  # past the damper's hold-down from the previous run
    names = sorted(pairs)
    streams = GapStreams([pairs[n] for n in names], pps=pps, max_seconds=300)
    streams.start(flowing_within=60)
    since = datetime.now().astimezone().replace(microsecond=0)
    t0 = time.perf_counter()
    control.call(s.lab.socket, control.LinkAdmin(a=info.a, b=info.b, up=False))
    try:
        harness.wait(lambda: _ready_off(s, affected, link), 120, "re-pathed", 0.02)
        controller_ms = (time.perf_counter() - t0) * 1000
        time.sleep(AFTER_READY_S)  # the measurement window after the controller is done
        results = dict(zip(names, streams.stop(), strict=True))
    finally:
        streams.__exit__(None, None, None)
        control.call(s.lab.socket, control.LinkAdmin(a=info.a, b=info.b, up=True))
    time.sleep(1)  # the audit records are written just after the change
    gaps = [_outage_ms(results[n]) for n in sorted(affected)]
    others = [_outage_ms(r) for n, r in results.items() if n not in affected]
    return {
        "link": link,
        "affected": len(affected),
        "gap_max_ms": max(gaps),
        "gap_median_ms": statistics.median(gaps),
        "unaffected_gap_max_ms": max(others, default=0.0),
        "not_restored": sum(1 for n in affected if not results[n].restored),
        "controller_ms": controller_ms,
        "floor_ms": _floor_ms(s, since),
    }


def run_size(s: harness.Stack, count: int, runs: int) -> dict[str, Any]:
    assert s.lab is not None
    s.kubectl("delete", "namespace", NS, "--ignore-not-found", "--timeout=300s")
    s.tenant(NS)
    s.kubectl("apply", "-f", "-", input=_services(count))
    names = {f"s-{i:03d}" for i in range(count)}
    harness.wait(lambda: _ready_off(s, names, None), 300, f"{count} services Ready", 0.2)
    pps = min(1000, TOTAL_PPS // count)
    done = []
    with ExitStack() as stack:
        pairs = {
            o["metadata"]["name"]: stack.enter_context(
                traffic.attach(*service_attachments(s.lab, o))
            )
            for o in _items(s)
        }
        for _ in range(runs):
            done.append(one_run(s, pairs, pps))
    s.kubectl("delete", "networkservices", "--all", "-n", NS, "--timeout=300s")

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in done))

    return {
        "services": count,
        "runs": runs,
        "pps_per_flow": pps,
        "resolution_ms": 1000 / pps,
        "gap_max_ms": {"median": median("gap_max_ms"), "all": [r["gap_max_ms"] for r in done]},
        "gap_median_ms": median("gap_median_ms"),
        "controller_ms": {"median": median("controller_ms")},
        "floor_ms": {"median": median("floor_ms")},
        "runs_detail": done,
    }


def _table(results: list[dict[str, Any]], load: tuple[float, ...] = ()) -> str:
    table = (
        "| services | affected (median) | traffic gap, worst service (ms) | traffic gap, "
        "median service (ms) | controller: link down → all Ready (ms) | floor: re-path "
        "transactions (ms) | resolution (ms) | flows not restored |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for r in results:
        detail = r["runs_detail"]
        table += (
            f"| {r['services']} | {statistics.median(d['affected'] for d in detail):.0f} "
            f"| {r['gap_max_ms']['median']:.0f} | {r['gap_median_ms']:.0f} "
            f"| {r['controller_ms']['median']:.0f} | {r['floor_ms']['median']:.0f} "
            f"| {r['resolution_ms']:.1f} | {sum(d['not_restored'] for d in detail)} |\n"
        )
    table += (
        "\nMedians over the runs. Gap: loss-based, from the senders' own timestamps. "
        "Unaffected services (not on the failed link) lost nothing unless "
        "`unaffected_gap_max_ms` in the JSON says otherwise.\n"
    )
    if load:
        table += (
            f"\nLoad average when the run started: {load[0]:.1f} on {os.cpu_count()} cores "
            "(a machine shared with other work: the figures include waiting for a core).\n"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = []
    load = os.getloadavg()
    with harness.stack() as s:
        for size in args.sizes:
            results.append(run_size(s, size, args.runs))
            print(_table(results), flush=True)
    sizes = " ".join(map(str, args.sizes))
    cmd = f"sudo python -m benchmarks.closedloop_traffic --sizes {sizes} --runs {args.runs}"
    harness.write("closedloop-traffic", {"results": results}, _table(results, load), cmd)


if __name__ == "__main__":
    main()
