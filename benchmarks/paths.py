"""Constrained path queries on synthetic networks of 1k, 10k and 100k devices.

Run from the repository root:  python -m benchmarks.paths  [--quick]

Each network is a random spanning tree plus random extra links (average degree ~4,
parallel links possible), with random capacities, reservations, latencies and costs. A
query asks for a bandwidth that about a quarter of the links no longer have free; a second
variant adds a latency bound that binds on part of the queries. The floors are networkx's
plain `dijkstra_path` and its `bidirectional_dijkstra` on the same links by cost, with no
constraints at all. Every query runs several rounds; median and p99 are over all samples,
and rejected queries (which also explain themselves) are part of the samples.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import networkx as nx

from intentloop_intents.paths import (
    NoFeasiblePath,
    Path,
    PathPair,
    PathRequest,
    constrained_path,
    disjoint_pair,
)
from intentloop_intents.topology import Endpoint, LinkSpec, Topology

RESULTS = FilePath(__file__).parent / "results"
TARGET_MS_AT_10K = 30.0


@dataclass(frozen=True)
class Case:
    nodes: int
    queries: int
    rounds: int
    disjoint: bool


CASES = (Case(1_000, 50, 5, True), Case(10_000, 50, 5, True), Case(100_000, 10, 3, False))
QUICK = (Case(1_000, 20, 3, True), Case(10_000, 10, 3, True))


def synthetic(nodes: int, rng: random.Random) -> tuple[Topology, Any, list[LinkSpec]]:
    """A connected random network and the same links as a plain weighted nx.Graph."""
    names = [f"r{i}" for i in range(nodes)]
    pairs = [(names[i], names[rng.randrange(i)]) for i in range(1, nodes)]
    for _ in range(nodes):  # ~2n links in all: average degree ~4
        a, b = rng.sample(names, 2)
        pairs.append((a, b))
    ports: dict[str, int] = {}
    specs = []
    for index, (a, b) in enumerate(pairs):
        ports[a] = ports.get(a, 0) + 1
        ports[b] = ports.get(b, 0) + 1
        specs.append(
            LinkSpec(
                name=f"l{index}",
                a=Endpoint(a, f"e{ports[a]}"),
                b=Endpoint(b, f"e{ports[b]}"),
                capacity_mbps=rng.choice([1_000, 10_000, 40_000, 100_000]),
                latency_ms=round(rng.uniform(0.1, 5.0), 2),
                cost=rng.randint(1, 100),
            )
        )
    topology = Topology()
    for name in names:
        topology.upsert_device(name)
    for spec in specs:
        topology.upsert_link(spec)
        used = rng.random() * spec.capacity_mbps
        topology.reserve(f"bench/{spec.name}", [spec.name], used, check_capacity=False)
    floor = nx.Graph()
    for spec in specs:
        u, v = spec.a.device, spec.b.device
        if not floor.has_edge(u, v) or floor[u][v]["cost"] > spec.cost:
            floor.add_edge(u, v, cost=spec.cost)
    return topology, floor, specs


def demand_excluding_a_quarter(topology: Topology) -> float:
    free = sorted(link.free_mbps for link in topology.links())
    return free[len(free) // 4]


def timed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result: object = call()
    except NoFeasiblePath as failure:
        result = failure
    return (time.perf_counter() - start) * 1000, result


def summarise(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(p99, 3),
        "min_ms": round(ordered[0], 3),
        "samples": len(ordered),
    }


def run_case(case: Case, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    started = time.perf_counter()
    topology, floor, _ = synthetic(case.nodes, rng)
    build_s = time.perf_counter() - started
    demand = demand_excluding_a_quarter(topology)
    devices = [d.name for d in topology.devices()]
    pairs = [(s, t) for s, t in (rng.sample(devices, 2) for _ in range(case.queries))]
    # A latency bound near the typical route's latency: it binds on part of the queries.
    probe = [constrained_path(topology, PathRequest(s, t)).latency_ms for s, t in pairs[:10]]
    bound = statistics.median(probe)
    variants: dict[str, Callable[[str, str], object]] = {
        "floor: nx.dijkstra_path": lambda s, t: nx.dijkstra_path(floor, s, t, weight="cost"),
        "floor: nx.bidirectional_dijkstra": lambda s, t: nx.bidirectional_dijkstra(
            floor, s, t, weight="cost"
        ),
        "constrained: bandwidth": lambda s, t: constrained_path(
            topology, PathRequest(s, t, bandwidth_mbps=demand)
        ),
        "constrained: bandwidth + latency": lambda s, t: constrained_path(
            topology, PathRequest(s, t, bandwidth_mbps=demand, max_latency_ms=bound)
        ),
    }
    if case.disjoint:
        variants["disjoint pair: bandwidth"] = lambda s, t: disjoint_pair(
            topology, PathRequest(s, t, bandwidth_mbps=demand)
        )
    results: dict[str, Any] = {}
    for label, query in variants.items():
        samples: list[float] = []
        outcomes: dict[str, int] = {}
        for round_ in range(case.rounds):
            for s, t in pairs:
                ms, result = timed(functools.partial(query, s, t))
                samples.append(ms)
                if round_ == 0:
                    kind = _outcome(result)
                    outcomes[kind] = outcomes.get(kind, 0) + 1
        results[label] = summarise(samples) | {"outcomes": outcomes}
    excluded = sum(1 for link in topology.links() if link.free_mbps < demand)
    return {
        "nodes": case.nodes,
        "links": len(topology.links()),
        "queries": case.queries,
        "rounds": case.rounds,
        "build_seconds": round(build_s, 2),
        "demand_mbps": round(demand, 1),
        "links_excluded_by_demand": excluded,
        "latency_bound_ms": round(bound, 2),
        "results": results,
    }


def _outcome(result: object) -> str:
    if isinstance(result, NoFeasiblePath):
        return result.infeasibility.constraint.value
    if isinstance(result, PathPair):
        return "found (pair rescued)" if result.primary.note else "found"
    if isinstance(result, Path):
        return "found (bound binds: LARAC)" if result.note else "found"
    return "found"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Constrained path benchmark",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}  ",
        f"Target: constrained query <= {TARGET_MS_AT_10K:g} ms at 10k nodes.",
        "",
        "| nodes | links | query | median ms | p99 ms | min ms | samples | outcomes |",
        "|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for case in report["cases"]:
        for label, r in case["results"].items():
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["outcomes"].items()))
            lines.append(
                f"| {case['nodes']:,} | {case['links']:,} | {label} | {r['median_ms']} | "
                f"{r['p99_ms']} | {r['min_ms']} | {r['samples']} | {outcomes} |"
            )
    lines += [
        "",
        "Floors: networkx on the same links by cost, no constraints. Constrained queries ask",
        "for a bandwidth a quarter of the links lack; '+ latency' adds a bound near the",
        "typical route's latency. Rejections (which also explain themselves: bottleneck,",
        "lowest latency, bridge) are part of the samples. Outcomes are from the first round.",
        "",
        "Per case: demand, links it excludes, latency bound, topology build time.",
        "",
    ]
    for case in report["cases"]:
        lines.append(
            f"- {case['nodes']:,} nodes: demand {case['demand_mbps']} Mbps excludes "
            f"{case['links_excluded_by_demand']:,} of {case['links']:,} links; latency bound "
            f"{case['latency_bound_ms']} ms; built in {case['build_seconds']} s; "
            f"{case['queries']} queries x {case['rounds']} rounds."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k only, fewer queries")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    cases = QUICK if args.quick else CASES
    report: dict[str, Any] = {
        "command": "python -m benchmarks.paths" + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()} x{os.cpu_count()}, {platform.python_implementation()} "
        f"{platform.python_version()}, networkx {nx.__version__}, load average at start "
        f"{os.getloadavg()[0]:.1f} (other work shares the machine: read ratios, not absolutes)",
        "cases": [],
    }
    for case in cases:
        print(f"paths: {case.nodes:,} nodes ...", file=sys.stderr, flush=True)
        report["cases"].append(run_case(case, args.seed))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "paths-quick" if args.quick else "paths"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
