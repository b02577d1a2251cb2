"""Intent → Ready latency, and many services at once, on the real stack.

Run from the repository root:  python -m benchmarks.intents [--runs 20] [--many 500]

1. One L2 service across 3 devices (r1 → r3, via r2): from the create call to Ready seen
   by a watch, median and p99 over `--runs` runs (each run deletes the service and waits
   until its configuration is gone). The floor beside it: the raw transaction time the
   operator recorded for that service (its Transaction's durationMs) plus one API round
   trip (a GET of the object, measured in the same run).
2. `--many` services created at once: time until all are Ready, services/s, the
   operator's peak RSS and CPU seconds per service (from /proc).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import signal
import statistics
import threading
import time
from typing import Any

import kubernetes
import yaml

from benchmarks import harness

GROUP, VERSION = harness.GROUP, harness.VERSION
PORTS = ("eth1", "eth2")


def service(
    namespace: str, name: str, a: tuple[str, str], b: tuple[str, str], mbps: int
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "endpoints": [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}],
            "bandwidthMbps": mbps,
        },
    }


def _watch_ready(api: Any, namespace: str, name: str, timeout: float) -> float:
    w = kubernetes.watch.Watch()
    for event in w.stream(
        api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "networkservices",
        field_selector=f"metadata.name={name}",
        timeout_seconds=int(timeout),
    ):
        if event["object"].get("status", {}).get("phase") == "Ready":
            w.stop()
            return time.perf_counter()
    raise TimeoutError(f"{name} not Ready")


def one_service(s: harness.Stack, runs: int) -> dict[str, Any]:
    ns = "bench-latency"
    s.tenant(ns)
    latencies, floors, tx_ms, rtt_ms = [], [], [], []
    first_ms = 0.0
    # Run 0 is the first service after the operator started (its start-up work — first
    # probes, telemetry streams, sessions — still running): reported apart, not in the stats.
    for i in range(runs + 1):
        name = f"lat-{i}"
        body = service(ns, name, ("r1", "eth1"), ("r3", "eth1"), 10)
        seen: dict[str, float] = {}

        def watch(n: str = name, out: dict[str, float] = seen) -> None:
            out["t"] = _watch_ready(s.api, ns, n, 60)

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.05)  # the watch is open before the create
        t0 = time.perf_counter()
        s.api.create_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", body)
        watcher.join()
        latency = (seen["t"] - t0) * 1000
        t1 = time.perf_counter()
        obj = s.api.get_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name)
        rtt = (time.perf_counter() - t1) * 1000
        ref = obj["status"]["transactionRef"]

        def recorded(r: dict[str, str] = ref) -> Any:
            try:
                t = s.api.get_namespaced_custom_object(
                    GROUP, VERSION, r["namespace"], "transactions", r["name"]
                )
            except kubernetes.client.ApiException:
                return None
            return t.get("status", {}).get("durationMs")

        tx = harness.wait(recorded, 10, "transaction record")
        s.kubectl("delete", "networkservice", name, "-n", ns, "--timeout=60s")
        if i == 0:
            first_ms = latency
            continue
        latencies.append(latency)
        tx_ms.append(tx)
        rtt_ms.append(rtt)
        floors.append(tx + rtt)
    return {
        "runs": runs,
        "first_after_start_ms": first_ms,
        "ready_ms": {
            "median": statistics.median(latencies),
            "p99": harness.percentile(latencies, 99),
        },
        "floor_ms": {"median": statistics.median(floors), "p99": harness.percentile(floors, 99)},
        "transaction_ms_median": statistics.median(tx_ms),
        "api_rtt_ms_median": statistics.median(rtt_ms),
        "ratio_median": statistics.median(latencies) / statistics.median(floors),
    }


def many_services_repeated(s: harness.Stack, count: int, runs: int) -> dict[str, Any]:
    """`many_services` `runs` times on the same stack (each in a fresh namespace, the
    previous one deleted first, its devices emptied); medians, and every run's figures."""
    results = []
    for run in range(runs):
        if run:
            s.kubectl("delete", "namespace", f"bench-many-{run - 1}", "--timeout=600s")
        results.append(many_services(s, count, f"bench-many-{run}"))
    keys = ("all_ready_s", "services_per_s", "operator_cpu_ms_per_service", "devices_busy_s")
    summary: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in keys}
    summary["operator_peak_rss_mib"] = max(r["operator_peak_rss_mib"] for r in results)
    summary.update(services=count, runs=runs, each=results)
    return summary


def many_services(s: harness.Stack, count: int, ns: str = "bench-many") -> dict[str, Any]:
    assert s.lab is not None
    s.tenant(ns)
    routers = [r.name for r in s.lab.routers]
    docs = []
    for i in range(count):
        a = routers[i % len(routers)]
        b = routers[(i + 1 + (i // len(routers)) % (len(routers) - 1)) % len(routers)]
        docs.append(service(ns, f"m-{i:04d}", (a, PORTS[i % 2]), (b, PORTS[(i // 2) % 2]), 1))
    before = s.operator_usage()
    t0 = time.perf_counter()
    s.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def ready() -> bool:
        items = s.api.list_namespaced_custom_object(GROUP, VERSION, ns, "networkservices")["items"]
        return sum(1 for o in items if o.get("status", {}).get("phase") == "Ready") == count

    harness.wait(ready, 600, f"{count} services Ready", interval=0.25)
    elapsed = time.perf_counter() - t0
    after = s.operator_usage()
    time.sleep(2)  # the audit records are written just after each change
    return {
        "services": count,
        "all_ready_s": elapsed,
        "devices_busy_s": transactions_busy_s(s, (ns, "intentloop-system")),
        "services_per_s": count / elapsed,
        "operator_peak_rss_mib": after["peak_rss_mib"],
        "operator_cpu_ms_per_service": (after["cpu_s"] - before["cpu_s"]) * 1000 / count,
    }


FLOOR_FINALIZER = "bench.intentloop.io/floor"


def api_floor(s: harness.Stack, count: int, concurrency: int = 32) -> dict[str, Any]:
    """The API work no controller can skip for `count` services, with the operator paused:
    per service the user's create, a finalizer added, one Allocation created (the VLAN's
    lock) and one status write — the same objects, schemas and API server as the real run,
    at the concurrency of the operator's worker pool. Device work is not included."""
    assert s.operator is not None
    ns = "bench-floor"
    s.tenant(ns)
    s.operator.send_signal(signal.SIGSTOP)
    try:
        docs = [service(ns, f"f-{i:04d}", ("r1", "eth1"), ("r3", "eth1"), 1) for i in range(count)]

        def one(i: int) -> None:
            body = docs[i]
            name = body["metadata"]["name"]
            s.api.create_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", body)
            finalizer = {"metadata": {"finalizers": [FLOOR_FINALIZER]}}
            s.api.patch_namespaced_custom_object(
                GROUP, VERSION, ns, "networkservices", name, finalizer
            )
            allocation = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Allocation",
                "metadata": {"name": f"floor-vlan-{i}"},
                "spec": {"pool": "floor-vlan", "value": 100 + i, "owner": f"{ns}/{name}"},
            }
            s.api.create_cluster_custom_object(GROUP, VERSION, "allocations", allocation)
            status = {"status": {"phase": "Ready", "observedGeneration": 1, "vlan": 100 + i}}
            s.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, ns, "networkservices", name, status
            )

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))
        elapsed = time.perf_counter() - t0
        for i in range(count):
            name = f"f-{i:04d}"
            clear = {"metadata": {"finalizers": None}}
            s.api.patch_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name, clear)
            s.api.delete_cluster_custom_object(GROUP, VERSION, "allocations", f"floor-vlan-{i}")
        s.kubectl("delete", "namespace", ns, "--timeout=300s")
    finally:
        s.operator.send_signal(signal.SIGCONT)
    time.sleep(2)  # the operator catches up on the deleted objects' events
    return {"services": count, "api_floor_s": elapsed, "writes_per_service": 4}


def transactions_busy_s(s: harness.Stack, namespaces: tuple[str, ...]) -> float:
    """Summed durations of the Transactions recorded in `namespaces`: the time the devices
    spent on the changes (batches touch the same devices, so they do not overlap)."""
    total = 0.0
    for ns in namespaces:
        for t in s.api.list_namespaced_custom_object(GROUP, VERSION, ns, "transactions")["items"]:
            total += float(t.get("status", {}).get("durationMs") or 0)
    return total / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--many", type=int, default=500)
    parser.add_argument("--many-runs", type=int, default=3)
    args = parser.parse_args()
    with harness.stack() as s:
        single = one_service(s, args.runs)
        many = many_services_repeated(s, args.many, args.many_runs) if args.many else {}
        api = api_floor(s, args.many) if args.many else {}  # last: it pauses the operator
    ready, floor = single["ready_ms"], single["floor_ms"]
    table = (
        "| measure | value |\n|---|---|\n"
        f"| intent → Ready, median / p99 (ms) | {ready['median']:.1f} / {ready['p99']:.1f} |\n"
        f"| floor: transaction + 1 API round trip, median (ms) | {floor['median']:.1f} |\n"
        f"| ratio (median / floor) | {single['ratio_median']:.2f} (target ≤ 2) |\n"
        f"| first service after the operator started (ms, not in the above) | "
        f"{single['first_after_start_ms']:.0f} |\n"
    )
    if many:
        each = ", ".join(f"{r['all_ready_s']:.1f}" for r in many["each"])
        table += (
            f"| {many['services']} services: all Ready, median of {many['runs']} (s) | "
            f"{many['all_ready_s']:.1f} (≤ 15; runs: {each}) |\n"
            f"| services/s | {many['services_per_s']:.1f} |\n"
            f"| operator peak RSS (MiB) | {many['operator_peak_rss_mib']:.0f} |\n"
            f"| operator CPU per service (ms) | {many['operator_cpu_ms_per_service']:.1f} |\n"
            f"| floor, API: the {api['writes_per_service']} unavoidable writes per service, "
            f"operator paused (s) | {api['api_floor_s']:.1f} |\n"
            f"| floor, devices: summed transaction time (s) | {many['devices_busy_s']:.1f} |\n"
        )
    cmd = (
        f"python -m benchmarks.intents --runs {args.runs} --many {args.many}"
        f" --many-runs {args.many_runs}"
    )
    harness.write("intents", {"single": single, "many": many, "api_floor": api}, table, cmd)
    print(table)


if __name__ == "__main__":
    main()
