"""Telemetry into the controller's state: the operator's `ingest` step, per core.

Run from the repository root:  python -m benchmarks.telemetry_state

`benchmarks.gnmi_latency` measures decoding gNMI notifications into `TelemetryUpdate`s
(the adapter's side). This measures the next step on the same core: each update applied to
the operator's in-memory topology (`telemetry.ingest`: link lookup, oper state, measured
latency, rate), before the coalesced status writes. The combined per-core rate is
1 / (1/decode + 1/ingest), computed here from both figures.
"""

from __future__ import annotations

import json
import statistics
import time

from benchmarks import harness
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents import topology as topo
from intentloop_operator import telemetry
from intentloop_operator.runtime import Runtime

ROUTERS, UPDATES, ROUNDS = 50, 200_000, 5


def runtime() -> Runtime:
    rt = Runtime()
    for i in range(ROUTERS):
        rt.topology.upsert_device(f"r{i}", reachable=True)
    for i in range(ROUTERS):
        a, b = f"r{i}", f"r{(i + 1) % ROUTERS}"
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


def main() -> None:
    batch = updates()
    rates = []
    for _ in range(ROUNDS):
        rt = runtime()
        t0 = time.process_time()
        for device, update in batch:
            telemetry.ingest(rt, device, update)
        rates.append(len(batch) / (time.process_time() - t0))
    ingest = statistics.median(rates)
    decode = {}
    try:
        gnmi = json.loads((harness.RESULTS / "gnmi-latency.json").read_text())
        decode = {
            row["per_notification"]: statistics.median(r["per_cpu_s"] for r in row["runs"])
            for row in gnmi.get("ingest", [])
            if "subscribe" in row.get("variant", "")
        }
    except (OSError, ValueError, KeyError, TypeError):
        decode = {}
    combined = {k: 1 / (1 / v + 1 / ingest) for k, v in decode.items()}
    table = (
        f"| step | updates per CPU-second |\n|---|---:|\n| ingest into state | {ingest:,.0f} |\n"
    )
    for k, v in sorted(combined.items()):
        table += f"| decode ({k}/notification) + ingest | {v:,.0f} |\n"
    table += "\nTargets: ≥ 15,000 (1 update per notification), ≥ 50,000 (20 per notification).\n"
    harness.write(
        "telemetry-state",
        {"ingest_per_cpu_s": ingest, "rounds": rates, "combined": combined},
        table,
        "python -m benchmarks.telemetry_state",
    )
    print(table)


if __name__ == "__main__":
    main()
