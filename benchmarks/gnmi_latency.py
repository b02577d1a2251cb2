"""gNMI over TLS: request latency against a lab target, and telemetry ingest per client core.

Run from the repository root:  python -m benchmarks.gnmi_latency  [--quick]

Latency: a real lab `GnmiTarget` (TLS, lab CA) runs in its own process, as it does in the
lab daemon, holding a 10-entry configuration. The client measures raw gNMI RPCs and the
adapter's operations; the floor is a Capabilities round trip (TLS, empty reply): no gNMI
call can be faster on this machine.

Ingest: a replay server in its own process sends pre-serialised SubscribeResponses as fast
as gRPC lets it (the lab target builds notifications in Python and would be the bottleneck;
here the client is measured). Figures are updates per second of the client's CPU time, so
"per core" holds even when the sender limits the wall-clock rate. The floor receives the
messages without decoding them. Both processes share a 2-core machine with whatever else
runs there: read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_adapters.gnmi import GnmiAdapter
from intentloop_adapters.gnmi_codec import TelemetryDecoder, config_path, json_ietf
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan
from intentloop_lab.gnmi_target import GnmiTarget
from intentloop_lab.pki import LabPki

RESULTS = Path(__file__).parent / "results"
INGEST_TARGETS = {1: 15_000, 20: 50_000}
SEED = DeviceConfigTree(
    interfaces=tuple(Interface(name=f"eth{i}", mtu=9000, owners={"ns/a"}) for i in (1, 2, 3)),
    vlans=tuple(Vlan(vlan_id=100 + i, name=f"svc-{i}") for i in range(3)),
    policers=(Policer(name="p1", rate_mbps=100), Policer(name="p2", rate_mbps=200)),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=100, policer="p1"),
        SubInterface(parent="eth2", vlan_id=101, policer="p2"),
    ),
)


# --- server processes ---------------------------------------------------------------------
def serve_lab_target(conn: Connection, pki_dir: str) -> None:
    from intentloop_intents.device.gnmi_json import tree_to_json

    tls = LabPki(Path(pki_dir)).server("bench")
    target = GnmiTarget(name="bench", port=0, interfaces=["eth1", "eth2", "eth3"], tls=tls)
    target.replace_config(tree_to_json(SEED))
    target.start()
    conn.send(target.port)
    conn.recv()
    target.stop()


def serve_replay(conn: Connection, pki_dir: str, per_notification: int) -> None:
    """Capabilities, and a Subscribe that repeats pre-serialised notifications forever."""
    from concurrent.futures import ThreadPoolExecutor

    payloads = replay_payloads(per_notification)
    caps = gnmi_pb2.CapabilityResponse(
        supported_encodings=[gnmi_pb2.Encoding.JSON_IETF], gNMI_version="0.8.0"
    ).SerializeToString()

    def subscribe(requests: Any, context: grpc.ServicerContext) -> Any:
        next(requests, None)
        while context.is_active():
            for _ in range(100):
                yield from payloads

    handler = grpc.method_handlers_generic_handler(
        "gnmi.gNMI",
        {
            "Capabilities": grpc.unary_unary_rpc_method_handler(lambda _r, _c: caps),
            "Subscribe": grpc.stream_stream_rpc_method_handler(subscribe),
        },
    )
    server = grpc.server(ThreadPoolExecutor(4), handlers=(handler,))
    tls = LabPki(Path(pki_dir)).server("bench")
    creds = grpc.ssl_server_credentials([(tls.key.read_bytes(), tls.cert.read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    conn.send(port)
    conn.recv()
    server.stop(None)


def replay_payloads(per_notification: int) -> list[bytes]:
    """20 distinct counter paths, `per_notification` updates per message, non-zero stamps."""
    leaves = [
        gnmi_pb2.Path(
            elem=[
                gnmi_pb2.PathElem(name="interfaces"),
                gnmi_pb2.PathElem(name="interface", key={"name": f"eth{i // 2}"}),
                gnmi_pb2.PathElem(name="state"),
                gnmi_pb2.PathElem(name="counters"),
                gnmi_pb2.PathElem(name="in-octets" if i % 2 else "out-octets"),
            ]
        )
        for i in range(20)
    ]
    messages = []
    for start in range(0, 20, per_notification):
        updates = [
            gnmi_pb2.Update(path=p, val=gnmi_pb2.TypedValue(uint_val=123_456_789 + n))
            for n, p in enumerate(leaves[start : start + per_notification])
        ]
        notification = gnmi_pb2.Notification(timestamp=time.time_ns(), update=updates)
        messages.append(gnmi_pb2.SubscribeResponse(update=notification).SerializeToString())
    return messages


class Server:
    """A server process; `port` once it listens, stopped on exit."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=target, args=(child, *args), daemon=True)

    def __enter__(self) -> int:
        self._process.start()
        port: int = self._conn.recv()
        return port

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(10)


# --- latency ------------------------------------------------------------------------------
def summarise(samples_ms: list[float], rounds: list[float]) -> dict[str, Any]:
    ordered = sorted(samples_ms)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "min_ms": round(ordered[0], 3),
        "round_medians_ms": [round(r, 3) for r in rounds],
        "samples": len(ordered),
    }


async def timed(op: Callable[[int], Awaitable[object]], rounds: int, n: int) -> dict[str, Any]:
    for i in range(10):  # warm-up: channel, caches, allocator
        await op(i)
    samples: list[float] = []
    medians: list[float] = []
    for _ in range(rounds):
        chunk = []
        for i in range(n):
            start = time.perf_counter()
            await op(i)
            chunk.append((time.perf_counter() - start) * 1e3)
        medians.append(statistics.median(chunk))
        samples += chunk
    return summarise(samples, medians)


async def latency(port: int, ca_pem: str, rounds: int, n: int) -> dict[str, dict[str, Any]]:
    credentials = grpc.ssl_channel_credentials(ca_pem.encode())
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials)
    stub = gnmi_pb2_grpc.gNMIStub(channel)
    adapter = GnmiAdapter(name="bench", host="127.0.0.1", port=port, ca_pem=ca_pem)
    await adapter.connect()
    get = gnmi_pb2.GetRequest(
        path=[config_path()], type=gnmi_pb2.GetRequest.CONFIG, encoding=gnmi_pb2.Encoding.JSON_IETF
    )
    leaf = config_path((("interface", (("name", "eth1"),)), ("description", ())))
    sets = [
        gnmi_pb2.SetRequest(update=[gnmi_pb2.Update(path=leaf, val=json_ietf(f"d{i % 2}"))])
        for i in range(2)
    ]
    trees = [
        SEED.model_copy(update={"interfaces": (Interface(name="eth1", description=d),)})
        for d in ("x", "y")
    ]

    async def apply(i: int) -> None:
        await adapter.stage(trees[i % 2])
        await adapter.commit(60)
        await adapter.confirm()

    ops: dict[str, Callable[[int], Awaitable[object]]] = {
        "floor: Capabilities RPC": lambda _i: asyncio.to_thread(
            stub.Capabilities, gnmi_pb2.CapabilityRequest(), timeout=5
        ),
        "Get config RPC (10 entries)": lambda _i: asyncio.to_thread(stub.Get, get, timeout=5),
        "Set one leaf RPC": lambda i: asyncio.to_thread(stub.Set, sets[i % 2], timeout=5),
        "adapter.get_config()": lambda _i: adapter.get_config(),
        "adapter stage+commit+confirm (1 leaf)": apply,
    }
    results = {name: await timed(op, rounds, n) for name, op in ops.items()}
    await adapter.close()
    channel.close()
    return results


# --- ingest -------------------------------------------------------------------------------
def ingest_raw(port: int, ca_pem: str, seconds: float, *, decode: bool) -> dict[str, float]:
    """One thread, SingleThreadedUnaryStream: the fastest way pygnmi's protos allow."""
    options = [(grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1)]
    credentials = grpc.ssl_channel_credentials(ca_pem.encode())
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        call = channel.unary_stream(
            "/gnmi.gNMI/Subscribe",
            request_serializer=gnmi_pb2.SubscribeRequest.SerializeToString,
            response_deserializer=gnmi_pb2.SubscribeResponse.FromString,
        )(gnmi_pb2.SubscribeRequest())
        decoder = TelemetryDecoder("bench")
        state: dict[str, object] = {}
        count = 0
        wall, cpu = time.perf_counter(), time.process_time()
        deadline = wall + seconds
        for response in call:
            if decode:
                for update in decoder.decode(response):
                    state[update.path] = update.value
            count += len(response.update.update)
            if count % 2000 < 20 and time.perf_counter() > deadline:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        call.cancel()
    return {"updates": count, "per_wall_s": count / wall, "per_cpu_s": count / cpu}


async def ingest_adapter(port: int, ca_pem: str, seconds: float) -> dict[str, float]:
    """The product path: reader thread, bounded queue, async consumer keeping latest state."""
    adapter = GnmiAdapter(name="bench", host="127.0.0.1", port=port, ca_pem=ca_pem)
    await adapter.connect()
    stream = adapter.subscribe(["/interfaces"])
    state: dict[str, object] = {}
    count = 0
    wall, cpu = time.perf_counter(), time.process_time()
    deadline = wall + seconds
    async for update in stream:
        state[update.path] = update.value
        count += 1
        if count % 2000 == 0 and time.perf_counter() > deadline:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    (stats,) = adapter.telemetry_stats()
    await stream.aclose()
    await adapter.close()
    return {
        "updates": count,
        "per_wall_s": count / wall,
        "per_cpu_s": count / cpu,
        "decoded_per_cpu_s": stats.received / cpu,
        "coalesced": stats.dropped,
        "queue_high_water": stats.high_water,
    }


def ingest(pki_dir: str, ca_pem: str, runs: int, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for per in (1, 20):
        with Server(serve_replay, pki_dir, per) as port:
            variants: dict[str, Callable[[], dict[str, float]]] = {
                "floor: receive only": lambda: ingest_raw(port, ca_pem, seconds, decode=False),
                "raw stub + TelemetryDecoder": lambda: ingest_raw(
                    port, ca_pem, seconds, decode=True
                ),
                "GnmiAdapter.subscribe (thread + queue + asyncio)": lambda: asyncio.run(
                    ingest_adapter(port, ca_pem, seconds)
                ),
            }
            for name, run in variants.items():
                results = [run() for _ in range(runs)]
                rows.append({"per_notification": per, "variant": name, "runs": results})
    return rows


# --- report -------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke run)")
    args = parser.parse_args()
    rounds, n, runs, seconds = (3, 20, 3, 1.0) if args.quick else (5, 50, 5, 2.0)
    with tempfile.TemporaryDirectory() as tmp:
        pki = LabPki(Path(tmp) / "pki")
        ca_pem = pki.ca_pem()
        pki.server("bench")
        with Server(serve_lab_target, str(pki.directory)) as port:
            lat = asyncio.run(latency(port, ca_pem, rounds, n))
        ing = ingest(str(pki.directory), ca_pem, runs, seconds)
    command = "python -m benchmarks.gnmi_latency" + (" --quick" if args.quick else "")
    report = {
        "command": command,
        "machine": machine(),
        "latency": lat,
        "ingest": ing,
        "ingest_targets_per_core": INGEST_TARGETS,
    }
    RESULTS.mkdir(exist_ok=True)
    stem = "gnmi-latency-quick" if args.quick else "gnmi-latency"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))


def machine() -> dict[str, Any]:
    return {
        "platform": platform.machine(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    lines = [
        "# gNMI latency and telemetry ingest (TLS)",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, CPython {m['python']}, grpcio "
        f"{m['grpcio']}, load average at start {load}",
        "",
        "## Request latency against a lab target (separate process, TLS)",
        "",
        "| operation | median ms | p99 ms | min ms | round medians ms | samples |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, s in report["latency"].items():
        medians = " / ".join(str(x) for x in s["round_medians_ms"])
        lines.append(
            f"| {name} | {s['median_ms']} | {s['p99_ms']} | {s['min_ms']} | {medians} | "
            f"{s['samples']} |"
        )
    lines += [
        "",
        "## Telemetry ingest per client core (replay sender in its own process, TLS)",
        "",
        "Median of runs; updates per second of client CPU time (and of wall time).",
        "",
        "| updates/notification | variant | per CPU-second | per wall-second | target | runs |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in report["ingest"]:
        cpu = statistics.median(r["per_cpu_s"] for r in row["runs"])
        wall = statistics.median(r["per_wall_s"] for r in row["runs"])
        target = report["ingest_targets_per_core"][row["per_notification"]]
        shown = "" if row["variant"].startswith("floor") else f"{target:,}"
        lines.append(
            f"| {row['per_notification']} | {row['variant']} | {cpu:,.0f} | {wall:,.0f} | "
            f"{shown} | {len(row['runs'])} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
