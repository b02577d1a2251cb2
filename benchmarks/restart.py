"""A restart at scale: what it costs, what it changes, and how soon new work is served.

Run from the repository root:  python -m benchmarks.restart [--services 2000] [--runs 3]

N services are provisioned on the lab (progress printed), then measured idle for
`--idle` seconds: the operator's, the API server's and etcd's CPU and etcd's database
size. Then, `--runs` times: SIGTERM the operator, start a new one, and as soon as it answers
/healthz create one new service. Per run: time to /healthz and /readyz, the new service's
create → Ready (beside the same create → Ready on the settled operator: the floor), the
new process's peak RSS over start-up, the Transactions the restart itself recorded (goal
0) and the Alarms it raised (goal 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import harness

GROUP, VERSION = harness.GROUP, harness.VERSION
NAMESPACE = "bench"
POOL = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "ResourcePool",
    "metadata": {"name": "bench-vlans"},
    "spec": {"kind": "vlan", "ranges": [{"start": 1000, "end": 4000}]},
}


def _service(name: str, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "endpoints": [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}],
            "bandwidthMbps": 1,
        },
    }


def _phases(s: harness.Stack) -> dict[str, str]:
    items = s.api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "networkservices")
    return {i["metadata"]["name"]: i.get("status", {}).get("phase", "") for i in items["items"]}


def _provision(s: harness.Stack, count: int) -> float:
    assert s.lab is not None
    ports = [(r.name, p) for r in s.lab.routers for p in r.interfaces]
    docs = []
    for i in range(count):
        a = ports[i % len(ports)]
        b = ports[(i * 7 + 3) % len(ports)]
        if a[0] == b[0]:
            b = ports[(ports.index(b) + len(s.lab.routers[0].interfaces)) % len(ports)]
        docs.append(_service(f"s-{i:05d}", a, b))
    started = time.monotonic()
    for chunk in range(0, count, 250):
        items = docs[chunk : chunk + 250]
        s.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"kind": "List", "apiVersion": "v1", "items": items}),
        )
    while True:
        ready = sum(1 for p in _phases(s).values() if p == "Ready")
        print(f"  {time.monotonic() - started:6.1f} s  {ready}/{count} Ready", flush=True)
        if ready >= count:
            return time.monotonic() - started
        time.sleep(5)


def _etcd_db_mib(s: harness.Stack) -> float:
    db = next(Path(s.cp.dir / "etcd").rglob("db"))
    return db.stat().st_size / 2**20


def _idle(s: harness.Stack, seconds: float) -> dict[str, float]:
    assert s.operator is not None
    pids = {"operator": s.operator.pid, **s.control_plane_pids()}
    before = {k: harness.cpu_seconds(p) for k, p in pids.items()}
    db_before = _etcd_db_mib(s)
    time.sleep(seconds)
    share = {
        f"{k}_core_pct": 100 * (harness.cpu_seconds(p) - before[k]) / seconds
        for k, p in pids.items()
    }
    return {**share, "etcd_db_mib_before": db_before, "etcd_db_mib_after": _etcd_db_mib(s)}


def _get(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our own http URL
            return bool(r.status == 200)
    except OSError:
        return False


def _count(s: harness.Stack, plural: str, namespace: str | None = None) -> dict[str, Any]:
    if namespace is None:
        items = s.api.list_cluster_custom_object(GROUP, VERSION, plural)["items"]
    else:
        items = s.api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in items}


WRITES = ("POST", "PATCH", "PUT", "DELETE", "APPLY")


def _create_ready(s: harness.Stack, name: str) -> float:
    assert s.lab is not None
    r0, r1 = s.lab.routers[0], s.lab.routers[-1]
    body = _service(name, (r0.name, r0.interfaces[0]), (r1.name, r1.interfaces[-1]))
    started = time.monotonic()
    s.api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "networkservices", body)
    harness.wait(lambda: _phases(s).get(name) == "Ready", 600, f"{name} Ready", interval=0.05)
    return time.monotonic() - started


def _restart(s: harness.Stack, run: int) -> dict[str, Any]:
    assert s.operator is not None
    base = f"http://127.0.0.1:{s.metrics_port}"
    records = set(_count(s, "transactions"))
    alarms = {k: (a.get("status") or {}).get("count", 0) for k, a in _count(s, "alarms").items()}
    requests = s.api_requests()
    s.operator.terminate()
    s.operator.wait(60)
    started = time.monotonic()
    s.start_operator({}, wait_devices=False)
    healthy = harness.wait(lambda: _get(f"{base}/healthz"), 120, "healthz", 0.05) and (
        time.monotonic() - started
    )
    new_ready = _create_ready(s, f"new-{run}")
    ready = harness.wait(lambda: _get(f"{base}/readyz"), 600, "readyz", 0.05) and (
        time.monotonic() - started
    )
    time.sleep(10)  # start-up settles: probes and assurance passes have run
    usage = s.operator_usage()
    served = harness.requests_between(requests, s.api_requests())
    written = {k: n for k, n in served.items() if k.split()[0] in WRITES}
    fresh = [t for k, t in _count(s, "transactions").items() if k not in records]
    by_restart = [
        t for t in fresh if (t["spec"].get("intentRef") or {}).get("name") != f"new-{run}"
    ]
    raised = [
        k
        for k, a in _count(s, "alarms").items()
        if (a.get("status") or {}).get("count", 0) > alarms.get(k, 0)
    ]
    return {
        "healthz_s": round(healthy, 2),
        "readyz_s": round(ready, 2),
        "new_service_ready_s": round(new_ready, 3),
        "startup_peak_rss_mib": round(usage["peak_rss_mib"], 1),
        "transactions_by_restart": len(by_restart),
        "alarms_raised_by_restart": len(raised),
        "api_writes_by_resource": written,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    with harness.stack() as s:
        s.tenant(NAMESPACE)
        s.kubectl("apply", "-f", "-", input=json.dumps(POOL))
        provision_s = _provision(s, args.services)
        floor = [_create_ready(s, f"floor-{i}") for i in range(3)]
        idle = _idle(s, args.idle)
        steady_rss = s.operator_usage()["peak_rss_mib"]
        runs = [_restart(s, run) for run in range(args.runs)]
        for run in runs:
            print(run, flush=True)
    print(_report(args, provision_s, floor, idle, steady_rss, runs))
    harness.write(
        "restart",
        {
            "services": args.services,
            "provision_s": provision_s,
            "floor_s": floor,
            "idle": idle,
            "steady_peak_rss_mib": steady_rss,
            "runs": runs,
        },
        _report(args, provision_s, floor, idle, steady_rss, runs),
        f"python -m benchmarks.restart --services {args.services} --runs {args.runs} "
        f"--idle {args.idle:g}",
    )


COLUMNS = (
    ("healthz_s", "/healthz s"),
    ("readyz_s", "/readyz s"),
    ("new_service_ready_s", "new service Ready s"),
    ("startup_peak_rss_mib", "start-up peak RSS MiB"),
    ("transactions_by_restart", "transactions by the restart"),
    ("alarms_raised_by_restart", "alarms raised by the restart"),
)


def _report(
    args: argparse.Namespace,
    provision_s: float,
    floor: list[float],
    idle: dict[str, float],
    steady_rss: float,
    runs: list[dict[str, Any]],
) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k, _ in COLUMNS}
    lines = [
        f"{args.services} services on the default lab, provisioned in {provision_s:.0f} s.",
        "",
        f"Idle {args.idle:.0f} s: operator {idle['operator_core_pct']:.1f}% of a core, "
        f"kube-apiserver {idle['kube-apiserver_core_pct']:.1f}%, "
        f"etcd {idle['etcd_core_pct']:.1f}%; etcd db {idle['etcd_db_mib_before']:.0f} → "
        f"{idle['etcd_db_mib_after']:.0f} MiB. Operator peak RSS before the restarts: "
        f"{steady_rss:.0f} MiB.",
        "",
        f"Floor (settled operator, create → Ready): median {statistics.median(floor):.3f} s.",
        "",
        "| run | " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for label, row in [*((str(i + 1), r) for i, r in enumerate(runs)), ("median", med)]:
        lines.append(f"| {label} | " + " | ".join(str(row[k]) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
