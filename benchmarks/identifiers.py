"""Identifiers for 100,000 services: decided without listing every allocation.

Run from the repository root:  python -m benchmarks.identifiers  [--services N]

Every service of a synthetic network takes what provisioning takes (`identifiers.take`):
the customer VLAN at each of its two ports, a tag on each of the three core links of its
route, and a network-wide service ID. The API server is an in-memory store answering the
calls `allocations` makes (create = the lock, 409 on a taken name; list by label); it
counts the list calls and the objects they return. The point is the shape, not the
absolute time: a decision costs the same for the 100,000th service as for the first, and
the number of list calls is the number of pools touched (each read once), not the number
of services. The old design (one network-wide VLAN pool) stops at 4,094 services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import identifiers, kube
from intentloop_operator.allocations import AllocationCache

RESULTS = Path(__file__).parent / "results"
PORTS_PER_SIDE = 40  # customer ports: 2 x 40, each with 4,094 VLANs
LINKS = 150  # core links: each service crosses 3 of them


class Store:
    """The API server as far as allocation needs it."""

    def __init__(self, pools: list[dict[str, Any]]) -> None:
        self.pools = pools
        self.allocations: dict[str, dict[str, Any]] = {}
        self.lists = 0
        self.listed_objects = 0

    async def list_objects(self, plural: str) -> list[dict[str, Any]]:
        assert plural == "resourcepools", "nothing may list every allocation"
        return self.pools

    async def list_selected(self, plural: str, selector: str) -> list[dict[str, Any]]:
        key, value = selector.split("=", 1)
        found = [o for o in self.allocations.values() if o["metadata"]["labels"].get(key) == value]
        self.lists += 1
        self.listed_objects += len(found)
        return found

    async def create_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if name in self.allocations:
            raise kube.AlreadyExists(name)
        self.allocations[name] = body
        return body


def pools() -> list[dict[str, Any]]:
    def pool(name: str, kind: str, start: int, end: int) -> dict[str, Any]:
        ranges = [{"start": start, "end": end}]
        return {"metadata": {"name": name}, "spec": {"kind": kind, "ranges": ranges}}

    return [
        pool("service-vlans", "vlan", 2, 4094),
        pool("core-link-tags", "linkTag", 2, 4094),
        pool("service-ids", "serviceId", 1, 4_294_967_295),
    ]


def service(i: int) -> tuple[NetworkServiceSpec, list[str]]:
    a, b = i % PORTS_PER_SIDE, (i // PORTS_PER_SIDE) % PORTS_PER_SIDE
    spec = NetworkServiceSpec.model_validate(
        {
            "endpoints": [
                {"device": f"pe{a}", "interface": "eth1"},
                {"device": f"pe{b + PORTS_PER_SIDE}", "interface": "eth1"},
            ],
            "bandwidthMbps": 1,
        }
    )
    first = (i * 7) % LINKS
    return spec, [f"l{(first + k) % LINKS}" for k in range(3)]


async def run(count: int) -> dict[str, Any]:
    store = Store(pools())
    kube.list_objects = store.list_objects  # type: ignore[assignment]
    kube.list_selected = store.list_selected  # type: ignore[assignment]
    kube.create_object = store.create_object  # type: ignore[assignment]
    cache = AllocationCache()
    samples: list[float] = []
    tracemalloc.start()
    started = time.perf_counter()
    for i in range(count):
        spec, links = service(i)
        t0 = time.perf_counter()
        await identifiers.take(cache, f"t{i % 50}/s{i}", f"uid-{i}", spec, links)
        samples.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "services": count,
        "allocations": len(store.allocations),
        "seconds": round(total, 2),
        "list_calls": store.lists,
        "objects_listed": store.listed_objects,
        "per_take_ms": _stats(samples),
        "first_1000_median_ms": round(statistics.median(samples[:1000]), 3),
        "last_1000_median_ms": round(statistics.median(samples[-1000:]), 3),
        "peak_traced_mib": round(peak / 2**20, 1),
    }


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 3),
        "p99": round(ordered[int(len(ordered) * 0.99) - 1], 3),
        "max": round(ordered[-1], 3),
    }


def markdown(report: dict[str, Any]) -> str:
    r = report["result"]
    rows = [
        ("services", f"{r['services']:,}"),
        ("allocation objects created", f"{r['allocations']:,}"),
        ("total time", f"{r['seconds']} s"),
        ("list calls (by label)", f"{r['list_calls']:,}"),
        ("objects returned by lists", f"{r['objects_listed']:,}"),
        ("take, median / p99 / max", "{median} / {p99} / {max} ms".format(**r["per_take_ms"])),
        ("first 1,000: median", f"{r['first_1000_median_ms']} ms"),
        ("last 1,000: median", f"{r['last_1000_median_ms']} ms"),
        (
            "peak Python memory (tracemalloc; with the store of all objects)",
            f"{r['peak_traced_mib']} MiB",
        ),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (
        "# Identifier allocation at scale\n\n"
        f"Command: `python -m benchmarks.identifiers --services {r['services']}`  \n"
        f"Machine: {report['machine']}  \n"
        "Each service: 2 customer ports (80 ports in all), 3 core links (of 150), one "
        "service ID; the API server is an in-memory store counting list calls.\n\n"
        "| measure | value |\n|---|---|\n" + table + "\n\n"
        "Every list is by label (one pool); each pool is read once, when first used: list "
        "calls = pools touched (ports + links + the service-ID pool), never per service. "
        "A network-wide VLAN pool would have stopped at 4,094 services.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.services))
    machine = (
        f"{platform.machine()} x{os.cpu_count()}, CPython {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    report = {"machine": machine, "result": result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "identifiers.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "identifiers.md").write_text(markdown(report))
    json.dump(result, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
