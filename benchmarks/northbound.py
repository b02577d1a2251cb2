"""The northbound component on the real stack: ordering throughput and event latency.

Run from the repository root:  python -m benchmarks.northbound [--orders 100] [--listeners 10]

1. `--orders` TMF641 orders (one service each), POSTed by a tenant's BSS (a ServiceAccount
   token, 8 at a time) to `intentloop api`: time from the first POST until every order is
   `completed`, orders/s, and the POST latency. Beside it, the same services applied with
   `kubectl apply` in another namespace: time until all are Ready.
2. `--listeners` hub listeners registered on serviceOrdering: for every order state change,
   the time from when a watch on the API server saw it (what `kubectl get -w` shows) to
   when each listener received the event; p50 / p99 over all events and listeners.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kubernetes
import requests
import yaml

from benchmarks import harness
from benchmarks.intents import PORTS, service
from intentloop_lab import controlplane

ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"


def _ends(s: harness.Stack, i: int) -> tuple[tuple[str, str], tuple[str, str]]:
    assert s.lab is not None
    routers = [r.name for r in s.lab.routers]
    a = routers[i % len(routers)]
    b = routers[(i + 1 + (i // len(routers)) % (len(routers) - 1)) % len(routers)]
    return (a, PORTS[i % 2]), (b, PORTS[(i // 2) % 2])


class Listeners:
    """`count` TMF listeners; the receipt time of every event, by (order id, state)."""

    def __init__(self, count: int) -> None:
        self.received: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        self.servers = [self._serve() for _ in range(count)]

    def _serve(self) -> ThreadingHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                order = body["event"]["serviceOrder"]
                with owner.lock:
                    owner.received.append((order["id"], order["state"], at))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{srv.server_address[1]}/bss" for srv in self.servers]

    def stop(self) -> None:
        for srv in self.servers:
            srv.shutdown()


class OrderWatch:
    """When the API server's watch showed each (order, state): the reference time."""

    def __init__(self, s: harness.Stack, namespace: str) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self._w = kubernetes.watch.Watch()
        threading.Thread(target=self._run, args=(s, namespace), daemon=True).start()

    def _run(self, s: harness.Stack, namespace: str) -> None:
        try:
            self._follow(s, namespace)
        except Exception:  # the stack going down at the end ends the watch
            return

    def _follow(self, s: harness.Stack, namespace: str) -> None:
        stream = self._w.stream(
            s.api.list_namespaced_custom_object,
            harness.GROUP,
            harness.VERSION,
            namespace,
            "serviceorders",
            timeout_seconds=900,
        )
        for event in stream:
            obj = event["object"]
            state = (obj.get("status") or {}).get("state", "acknowledged")
            key = (f"{namespace}.{obj['metadata']['name']}", state)
            self.seen.setdefault(key, time.time())


def start_api(s: harness.Stack) -> tuple[subprocess.Popen[bytes], str]:
    port = controlplane.free_port()
    roots = os.pathsep.join(
        str(harness.REPO / d) for d in ("operator", "intents", "adapters", "lab", "api")
    )
    log = open(s.root / "api.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intentloop_operator",
            "api",
            "--kubeconfig",
            str(s.cp.kubeconfig),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": roots},
    )
    log.close()
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    harness.wait(healthy, 60, "intentloop api healthy", interval=0.1)
    return proc, base


def bss_token(s: harness.Stack, namespace: str) -> str:
    s.kubectl("apply", "-f", str(harness.REPO / "manifests" / "user-roles.yaml"))
    s.kubectl("create", "serviceaccount", "bss", "-n", namespace)
    s.kubectl(
        "create",
        "rolebinding",
        "bss",
        "--clusterrole=intentloop-tenant",
        f"--serviceaccount={namespace}:bss",
        "-n",
        namespace,
    )
    return s.kubectl("create", "token", "bss", "-n", namespace, "--duration=2h").strip()


def order_body(s: harness.Stack, i: int) -> dict[str, Any]:
    a, b = _ends(s, i)
    ends = [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}]
    return {
        "externalId": f"bench-{i}",
        "serviceOrderItem": [
            {
                "id": "1",
                "action": "add",
                "service": {
                    "name": f"o-{i:04d}",
                    "serviceSpecification": {"id": "l2-p2p"},
                    "serviceCharacteristic": [
                        {"name": "bandwidthMbps", "value": 1},
                        {"name": "endpoints", "value": ends},
                    ],
                },
            }
        ],
    }


def ordering(s: harness.Stack, base: str, token: str, count: int, ns: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    posts: list[float] = []

    def post(i: int) -> None:
        t0 = time.perf_counter()
        reply = requests.post(base + ORDERS, json=order_body(s, i), headers=headers, timeout=60)
        reply.raise_for_status()
        posts.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(count)))
    posted = time.perf_counter() - t0

    def done() -> bool:
        reply = requests.get(
            base + ORDERS,
            params={"state": "completed", "fields": "state"},
            headers=headers,
            timeout=60,
        )
        return int(reply.headers["X-Total-Count"]) == count

    harness.wait(done, 900, f"{count} orders completed", interval=0.25)
    elapsed = time.perf_counter() - t0
    return {
        "orders": count,
        "all_completed_s": elapsed,
        "orders_per_s": count / elapsed,
        "all_posted_s": posted,
        "post_ms_p50": harness.percentile(posts, 50),
        "post_ms_p99": harness.percentile(posts, 99),
        "namespace": ns,
    }


def with_kubectl(s: harness.Stack, count: int, ns: str) -> dict[str, Any]:
    s.tenant(ns)
    docs = [service(ns, f"k-{i:04d}", *_ends(s, i), 1) for i in range(count)]
    t0 = time.perf_counter()
    s.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def ready() -> bool:
        items = s.api.list_namespaced_custom_object(
            harness.GROUP, harness.VERSION, ns, "networkservices"
        )["items"]
        return sum(1 for o in items if (o.get("status") or {}).get("phase") == "Ready") == count

    harness.wait(ready, 900, f"{count} services Ready (kubectl)", interval=0.25)
    elapsed = time.perf_counter() - t0
    return {"services": count, "all_ready_s": elapsed, "services_per_s": count / elapsed}


def latencies(listeners: Listeners, watch: OrderWatch, expected: int) -> dict[str, Any]:
    harness.wait(lambda: len(listeners.received) >= expected, 120, "every event delivered")
    gaps = [
        (at - watch.seen[(ident, state)]) * 1000
        for ident, state, at in listeners.received
        if (ident, state) in watch.seen
    ]
    return {
        "events": len(listeners.received),
        "matched": len(gaps),
        "p50_ms": harness.percentile(gaps, 50),
        "p99_ms": harness.percentile(gaps, 99),
        "max_ms": max(gaps),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--listeners", type=int, default=10)
    args = parser.parse_args()
    with harness.stack() as s:
        ns = "bench-bss"
        s.tenant(ns)
        token = bss_token(s, ns)
        api, base = start_api(s)
        listeners = Listeners(args.listeners)
        try:
            for url in listeners.urls():
                reply = requests.post(
                    base + "/tmf-api/serviceOrdering/v4/hub",
                    json={"callback": url},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                reply.raise_for_status()
            watch = OrderWatch(s, ns)
            orders = ordering(s, base, token, args.orders, ns)
            # created, inProgress, completed: three events an order, to each listener
            events = latencies(listeners, watch, 3 * args.orders * args.listeners)
            kubectl = with_kubectl(s, args.orders, "bench-kubectl")
        finally:
            listeners.stop()
            api.terminate()
            api.wait(15)
    table = (
        "| measure | value |\n|---|---|\n"
        f"| {orders['orders']} TMF641 orders (1 service each, 8 in flight): all completed (s) | "
        f"{orders['all_completed_s']:.1f} |\n"
        f"| orders/s to completed | {orders['orders_per_s']:.2f} |\n"
        f"| POST serviceOrder latency p50 / p99 (ms) | {orders['post_ms_p50']:.0f} / "
        f"{orders['post_ms_p99']:.0f} |\n"
        f"| beside: the same {kubectl['services']} services by `kubectl apply`, all Ready (s) | "
        f"{kubectl['all_ready_s']:.1f} ({kubectl['services_per_s']:.2f}/s) |\n"
        f"| event delivery, {args.listeners} listeners, {events['events']} events: API "
        f"server watch → listener p50 / p99 (ms) | {events['p50_ms']:.0f} / "
        f"{events['p99_ms']:.0f} (max {events['max_ms']:.0f}) |\n"
    )
    cmd = f"python -m benchmarks.northbound --orders {args.orders} --listeners {args.listeners}"
    harness.write(
        "northbound", {"ordering": orders, "kubectl": kubectl, "events": events}, table, cmd
    )
    print(table)


if __name__ == "__main__":
    main()
