"""Telemetry into the controller's state: the operator's `ingest` step, per core, and
decoding spread over collector processes.

Run from the repository root:  python -m benchmarks.telemetry_state  [--quick]

`benchmarks.gnmi_latency` measures decoding gNMI notifications into `TelemetryUpdate`s
(the adapter's side). This measures the next step on the same core: each update applied to
the operator's in-memory topology (`telemetry.ingest`: link lookup, oper state, measured
latency, rate), before the coalesced status writes. The combined per-core rate is
1 / (1/decode + 1/ingest), computed here from both figures.

Collector processes (`--collectors N`): 1,000 routers in a ring, each replaying
pre-serialised gNMI SubscribeResponses (built as `benchmarks.gnmi_latency` builds them: 20
paths per router, its two links' oper-status, latency and rate plus 14 port counters, one
round of all of them per turn) that a `CollectorPool` process decodes with the adapter's
`TelemetryDecoder` and ships, coalesced, to this process, which applies them to a Runtime
with `telemetry.ingest_batch`. With 20,000 distinct paths a path rarely repeats within one
batch, so little is coalesced: nearly every decoded update crosses the pipe and is applied.
No gRPC transport is involved (the gNMI benchmark's "receive only" floor is that cost).
Measured over wall-clock windows: updates decoded per second (all collectors together), how
many reached the state after coalescing, and the CPU time every process used, read from
/proc. "In-process" is the same decode + ingest on one core, as `--collectors 0` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pygnmi.spec.v080 import gnmi_pb2

from benchmarks import harness
from intentloop_adapters.factory import Credentials
from intentloop_adapters.gnmi_codec import TelemetryDecoder, parse_path
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents import topology as topo
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_operator import collectors, metrics, telemetry
from intentloop_operator.runtime import Runtime

ROUTERS, UPDATES, ROUNDS = 50, 200_000, 5
FLEET = 1000  # routers streaming into the collectors: 20,000 distinct paths
REPLAY = "benchmarks.telemetry_state:replay_source"
TARGETS = {1: 15_000, 20: 50_000}


def runtime(routers: int = ROUTERS) -> Runtime:
    rt = Runtime()
    for i in range(routers):
        rt.topology.upsert_device(f"r{i}", reachable=True)
    for i in range(routers):
        a, b = f"r{i}", f"r{(i + 1) % routers}"
        spec = topo.LinkSpec(
            name=f"{a}-{b}",
            a=topo.Endpoint(a, f"core-{b}"),
            b=topo.Endpoint(b, f"core-{a}"),
            capacity_mbps=10_000,
            latency_ms=2.0,
        )
        rt.topology.upsert_link(spec, oper_up=True)
    return rt


def updates() -> list[tuple[str, TelemetryUpdate]]:
    out = []
    leaves = ("latency-ms", "out-rate-mbps", "oper-status")
    for n in range(UPDATES):
        i = n % ROUTERS
        leaf = leaves[n % 3]
        value: float | str = "UP" if leaf == "oper-status" else 2.0 + (n % 7) * 0.01
        device, peer = f"r{i}", f"r{(i + 1) % ROUTERS}"
        path = f"/interfaces/interface[name=core-{peer}]/state/{leaf}"
        out.append(
            (device, TelemetryUpdate(device=device, path=path, value=value, timestamp_ns=n + 1))
        )
    return out


def ingest_alone() -> tuple[float, list[float]]:
    batch = updates()
    rates = []
    for _ in range(ROUNDS):
        rt = runtime()
        t0 = time.process_time()
        for device, update in batch:
            telemetry.ingest(rt, device, update)
        rates.append(len(batch) / (time.process_time() - t0))
    return statistics.median(rates), rates


# --- replayed gNMI notifications ------------------------------------------------------------
def router_values(router: int, n: int) -> list[tuple[str, Any]]:
    """Round `n` of one router's 20 paths with their values (gNMI TypedValues): its two ring
    links' oper-status, latency and rate, and 14 port counters the state ignores."""
    out: list[tuple[str, Any]] = []
    for peer in ((router + 1) % FLEET, (router - 1) % FLEET):
        state = f"/interfaces/interface[name=core-r{peer}]/state"
        out.append((f"{state}/oper-status", gnmi_pb2.TypedValue(string_val="UP")))
        out.append((f"{state}/latency-ms", gnmi_pb2.TypedValue(double_val=2.0 + n % 7 * 0.01)))
        out.append((f"{state}/out-rate-mbps", gnmi_pb2.TypedValue(double_val=100.0 + n % 13)))
    for port in range(7):
        counters = f"/interfaces/interface[name=eth{port}]/state/counters"
        for leaf in ("in-octets", "out-octets"):
            out.append((f"{counters}/{leaf}", gnmi_pb2.TypedValue(uint_val=123_456_789 + n)))
    return out


@functools.cache
def gnmi_path(text: str) -> Any:
    return parse_path(text)


def replay_rounds(router: int, per_notification: int, rounds: int = 5) -> list[list[bytes]]:
    """Serialized SubscribeResponses, per round: every path once, `per_notification` per
    message, non-zero timestamps."""
    out = []
    for n in range(rounds):
        values = router_values(router, n)
        messages = []
        for start in range(0, len(values), per_notification):
            notification = gnmi_pb2.Notification(
                timestamp=time.time_ns(),
                update=[
                    gnmi_pb2.Update(path=gnmi_path(text), val=val)
                    for text, val in values[start : start + per_notification]
                ],
            )
            messages.append(gnmi_pb2.SubscribeResponse(update=notification).SerializeToString())
        out.append(messages)
    return out


class ReplaySource:
    """A collector's telemetry source: decodes replayed bytes as fast as it is let, one
    round of the router's paths per turn, as a device sampling all of them would."""

    def __init__(self, name: str, per_notification: int) -> None:
        self.name, self.per_notification = name, per_notification

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def subscribe(self, paths: Sequence[str]) -> AsyncIterator[TelemetryUpdate]:
        rounds = replay_rounds(int(self.name[1:]), self.per_notification)
        decoder, parse = TelemetryDecoder(self.name), gnmi_pb2.SubscribeResponse.FromString
        yield TelemetryUpdate(device=self.name, path="", value=None, timestamp_ns=1, sync=True)
        for payloads in itertools.cycle(rounds):
            for payload in payloads:
                for update in decoder.decode(parse(payload)):
                    yield update
            await asyncio.sleep(0)  # the other routers on this collector, its commands


def replay_source(name: str, spec: DeviceSpec, _creds: Credentials) -> ReplaySource:
    return ReplaySource(name, int(spec.platform.removeprefix("replay:")))


def in_process(per_notification: int, seconds: float) -> dict[str, float]:
    """Decode + ingest in this process, one core: what `--collectors 0` does per update."""
    rt = runtime(FLEET)
    sources = [
        (f"r{i}", TelemetryDecoder(f"r{i}"), replay_rounds(i, per_notification))
        for i in range(FLEET)
    ]
    parse, lag, count = gnmi_pb2.SubscribeResponse.FromString, metrics.TELEMETRY_LAG, 0
    for name, decoder, rounds in sources:  # warm-up: every path string cached once
        for payload in rounds[0]:
            for update in decoder.decode(parse(payload)):
                telemetry.ingest(rt, name, update)
    cpu, deadline = time.process_time(), time.perf_counter() + seconds
    for n in itertools.count():
        name, decoder, rounds = sources[n % FLEET]
        for payload in rounds[n // FLEET % len(rounds)]:
            for update in decoder.decode(parse(payload)):
                lag.observe(max(0.0, time.time() - update.timestamp_ns / 1e9))
                telemetry.ingest(rt, name, update)
                count += 1
        if n % 64 == 0 and time.perf_counter() > deadline:
            break
    return {"decoded_per_cpu_s": count / (time.process_time() - cpu)}


# --- collector processes ----------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every process on the machine used so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


async def through_collectors(
    size: int, per_notification: int, windows: int, seconds: float
) -> dict[str, Any]:
    rt, applied, seen = runtime(FLEET), [0], set()

    def apply(batch: list[Any]) -> None:
        applied[0] += len(batch)
        telemetry.ingest_batch(rt, batch)
        if len(seen) < FLEET:  # warming up: until every router has streamed
            seen.update(device for device, *_ in batch)

    pool = collectors.CollectorPool(size, apply=apply, adapter_factory=REPLAY)
    pool.start()
    spec: dict[str, Any] = {"address": "127.0.0.1", "platform": f"replay:{per_notification}"}
    spec["gnmi"] = {"port": 9339, "insecure": True}
    streams = [
        asyncio.create_task(pool.stream(f"r{i}", spec, Credentials(), telemetry.PATHS))
        for i in range(FLEET)
    ]
    while len(seen) < FLEET:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # warm-up: every router streaming, caches filled
    pids = [pid for pid in pool.pids() if pid is not None]
    runs = []
    for _ in range(windows):
        a0, c0 = applied[0], metrics.TELEMETRY_COALESCED._value.get()
        busy0, kids0 = machine_busy_seconds(), [cpu_seconds(p) for p in pids]
        own0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall0
        shipped = applied[0] - a0
        decoded = shipped + metrics.TELEMETRY_COALESCED._value.get() - c0
        own = time.process_time() - own0
        kids = [cpu_seconds(p) - k for p, k in zip(pids, kids0, strict=True)]
        others = machine_busy_seconds() - busy0 - own - sum(kids)
        runs.append(
            {
                "decoded_per_s": decoded / wall,
                "applied_per_s": shipped / wall,
                "operator_cpu_per_s": own / wall,
                "collectors_cpu_per_s": [k / wall for k in kids],
                "decoded_per_cpu_s": decoded / (own + sum(kids)),
                "other_processes_cpu_per_s": max(0.0, others) / wall,
            }
        )
    memory = {"collectors_peak_rss_mib": [round(peak_rss_mib(p), 1) for p in pids]}
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    await pool.close()
    return {"collectors": size, "per_notification": per_notification, "runs": runs, **memory}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return float(
        statistics.median(sum(r[key]) if isinstance(r[key], list) else r[key] for r in runs)
    )


def decode_rates() -> dict[int, float]:
    """Decode per CPU-second from the gNMI benchmark's results (the adapter's subscribe)."""
    try:
        gnmi = json.loads((harness.RESULTS / "gnmi-latency.json").read_text())
        return {
            row["per_notification"]: statistics.median(r["per_cpu_s"] for r in row["runs"])
            for row in gnmi.get("ingest", [])
            if "subscribe" in row.get("variant", "")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def report(data: dict[str, Any]) -> str:
    ingest = data["ingest_per_cpu_s"]
    table = (
        f"| step | updates per CPU-second |\n|---|---:|\n| ingest into state | {ingest:,.0f} |\n"
    )
    for k, v in sorted(data["combined"].items()):
        table += f"| decode ({k}/notification) + ingest | {v:,.0f} |\n"
    table += "\nTargets: ≥ 15,000 (1 update per notification), ≥ 50,000 (20 per notification).\n"
    table += (
        "\n## Decoding in collector processes\n\n"
        f"{FLEET} routers replaying gNMI notifications; medians of {data['windows']} windows "
        f"of {data['window_s']} s. CPU in cores (CPU-seconds per second); load average "
        f"{data['load_before']} before, {data['load_after']} after (machine shared). "
        "In-process rows are per CPU-second of the one busy process. *shared*: other "
        "processes used more than a quarter of a core during the windows (the row is low).\n\n"
        "| collectors | updates/notification | decoded/s (all) | reached state/s | "
        "operator CPU | collectors CPU | other processes CPU | updates per CPU-second | "
        "collector peak RSS MiB |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    )
    for per, rate in sorted(data["in_process"].items()):
        table += (
            f"| 0 (in-process) | {per} | {rate:,.0f} | {rate:,.0f} | 1.00 | - | | {rate:,.0f} | |\n"
        )
    for row in data["pools"]:
        runs = row["runs"]
        shared = " *shared*" if median(runs, "other_processes_cpu_per_s") > 0.25 else ""
        table += (
            f"| {row['collectors']}{shared} | {row['per_notification']} | "
            f"{median(runs, 'decoded_per_s'):,.0f} | {median(runs, 'applied_per_s'):,.0f} | "
            f"{median(runs, 'operator_cpu_per_s'):.2f} | "
            f"{median(runs, 'collectors_cpu_per_s'):.2f} | "
            f"{median(runs, 'other_processes_cpu_per_s'):.2f} | "
            f"{median(runs, 'decoded_per_cpu_s'):,.0f} | "
            f"{', '.join(str(m) for m in row['collectors_peak_rss_mib'])} |\n"
        )
    for per, ratio in sorted(data["scaling_2_vs_1"].items()):
        table += f"\nTwo collectors vs one, {per}/notification: {ratio:.2f} times the decoded/s."
    return table + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter windows (smoke run)")
    args = parser.parse_args()
    windows, seconds = (2, 1.0) if args.quick else (5, 2.0)
    load_before = [round(x, 2) for x in os.getloadavg()]
    ingest, rates = ingest_alone()
    combined = {k: 1 / (1 / v + 1 / ingest) for k, v in decode_rates().items()}
    local = {
        per: statistics.median(
            in_process(per, seconds)["decoded_per_cpu_s"] for _ in range(windows)
        )
        for per in (1, 20)
    }
    pools = [
        asyncio.run(through_collectors(size, per, windows, seconds))
        for per in (1, 20)
        for size in (1, 2)
    ]
    decoded = {
        (r["collectors"], r["per_notification"]): median(r["runs"], "decoded_per_s") for r in pools
    }
    data = {
        "ingest_per_cpu_s": ingest,
        "rounds": rates,
        "combined": combined,
        "windows": windows,
        "window_s": seconds,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "in_process": local,
        "pools": pools,
        "scaling_2_vs_1": {per: decoded[2, per] / decoded[1, per] for per in (1, 20)},
    }
    table = report(data)
    command = "python -m benchmarks.telemetry_state" + (" --quick" if args.quick else "")
    harness.write(
        "telemetry-state-quick" if args.quick else "telemetry-state", data, table, command
    )
    print(table)


if __name__ == "__main__":
    main()
