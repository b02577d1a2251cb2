"""Ahead of faults: lead time, breaches avoided and false moves of the forecast re-path.

Run from the repository root, as root (it drives the lab's tc netem):
    python -m benchmarks.forecast_lead [--runs 3]

One L2 service r1 → r4 with `sla.maxLatencyMs: 8` runs on the 1 ms chord r1-r4 (the
alternative r1-r2-r3-r4 is 7 ms). Each scenario changes r1-r4's real latency in the lab
(`lab link latency`: tc netem on both ends; the routers' probes measure it and stream it
over gNMI, exactly as in production) following a script, while the service's status is
polled every 0.1 s:
- ramp-fast: +0.5 ms/s; ramp-slow: +0.2 ms/s; steps: +1 ms every 2 s (all up to +10 ms,
  so the bound is crossed once more than 7 ms are added);
- jump: +10 ms at once (nothing to forecast: the ordinary SLA re-path acts after it);
- noise: +3 ms ± 1.5 ms, new value every second for 60 s (never crosses the bound);
- plateau: +0.5 ms/s up to +5 ms (6 ms, under the bound), then flat for 30 s.
Per run: whether and when the service left r1-r4, and when the script first put the
latency over the bound (the breach). Lead time = breach - move; a breach is avoided when
the move came first; a false move is a move in a scenario that never breaches.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from benchmarks import harness
from intentloop_lab import control

GROUP, VERSION = harness.GROUP, harness.VERSION
NS = "bench-forecast"
BOUND_MS = 8.0
BASE_MS = 1.0  # r1-r4's nominal latency
TICK_S = 0.5

Profile = Callable[[float], float | None]  # seconds since start -> extra ms (None: done)


def _ramp(per_s: float, top: float, hold_s: float = 5.0) -> Profile:
    return lambda t: min(per_s * t, top) if per_s * t < top + per_s * hold_s else None


def _steps(t: float) -> float | None:
    return min(float(int(t // 2) + 1), 10.0) if t < 25 else None


def _noise(seed: int) -> Profile:
    rng = random.Random(seed)
    values = [3.0 + rng.uniform(-1.5, 1.5) for _ in range(61)]
    return lambda t: values[int(t)] if t < 60 else None


SCENARIOS: dict[str, Callable[[int], Profile]] = {
    "ramp-fast": lambda _: _ramp(0.5, 10.0),
    "ramp-slow": lambda _: _ramp(0.2, 10.0),
    "steps": lambda _: _steps,
    "jump": lambda _: lambda t: 10.0 if t < 10 else None,
    "noise": _noise,
    "plateau": lambda _: lambda t: min(0.5 * t, 5.0) if t < 40 else None,
}


def _service(name: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NetworkService",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "endpoints": [
                    {"device": "r1", "interface": "eth1"},
                    {"device": "r4", "interface": "eth1"},
                ],
                "bandwidthMbps": 5,
                "sla": {"maxLatencyMs": BOUND_MS},
            },
        }
    )


def _status(s: harness.Stack, name: str) -> dict[str, Any]:
    obj = s.api.get_namespaced_custom_object(GROUP, VERSION, NS, "networkservices", name)
    return dict(obj.get("status") or {})


def _on_chord(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Ready" and status.get("pathLinks") == ["r1-r4"]


def _ticks() -> Iterator[float]:
    start = time.monotonic()
    while True:
        yield time.monotonic() - start
        time.sleep(0.1)


def one_run(s: harness.Stack, scenario: str, seed: int) -> dict[str, Any]:
    assert s.lab is not None
    name = f"{scenario}-{seed}"
    s.kubectl("apply", "-f", "-", input=_service(name))
    harness.wait(lambda: _on_chord(_status(s, name)), 60, f"{name} Ready on r1-r4", 0.2)
    time.sleep(8)  # a flat history for the forecast, as in steady operation
    profile = SCENARIOS[scenario](seed)
    breach_s = moved_s = None
    applied, last_sent = 0.0, -1.0
    for t in _ticks():
        extra = profile(t)
        if extra is None:
            break
        if t - last_sent >= TICK_S and extra != applied:
            control.call(s.lab.socket, control.LinkLatency(a="r1", b="r4", extra_ms=extra))
            applied, last_sent = extra, t
        if breach_s is None and BASE_MS + applied > BOUND_MS:
            breach_s = t
        if moved_s is None and not _on_chord(_status(s, name)):
            moved_s = t
    control.call(s.lab.socket, control.LinkLatency(a="r1", b="r4", extra_ms=0))
    reasons = [r.get("reason", "") for r in _status(s, name).get("remediations", [])]
    s.kubectl("delete", "networkservice", name, "-n", NS, "--timeout=120s")
    time.sleep(10)  # r1-r4 back to its nominal latency: let the forecast see it flat
    return {
        "scenario": scenario,
        "breach_s": breach_s,
        "moved_s": moved_s,
        "ahead": moved_s is not None and (breach_s is None or moved_s < breach_s),
        "lead_s": None if moved_s is None or breach_s is None else breach_s - moved_s,
        "forecast_move": any(r.startswith("forecast:") for r in reasons),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    breaching = [r for r in runs if r["breach_s"] is not None]
    calm = [r for r in runs if r["breach_s"] is None]
    avoided = [r for r in breaching if r["ahead"]]
    leads = [r["lead_s"] for r in avoided]
    moves = [r for r in runs if r["moved_s"] is not None and r["ahead"]]
    false_moves = [r for r in calm if r["moved_s"] is not None]
    return {
        "runs": len(runs),
        "breaching_runs": len(breaching),
        "breaches_avoided": len(avoided),
        "lead_s_median": statistics.median(leads) if leads else None,
        "lead_s_min": min(leads) if leads else None,
        "moves_ahead": len(moves),
        "false_moves": len(false_moves),
        "precision": (len(moves) - len(false_moves)) / len(moves) if moves else None,
    }


def _table(by_scenario: dict[str, dict[str, Any]], total: dict[str, Any]) -> str:
    table = (
        "| scenario | runs | breaching runs | breaches avoided | lead time, median (s) "
        "| lead time, min (s) | false moves |\n|---|---:|---:|---:|---:|---:|---:|\n"
    )
    for name, r in [*by_scenario.items(), ("all", total)]:
        lead = "n/a" if r["lead_s_median"] is None else f"{r['lead_s_median']:.1f}"
        least = "n/a" if r["lead_s_min"] is None else f"{r['lead_s_min']:.1f}"
        table += (
            f"| {name} | {r['runs']} | {r['breaching_runs']} | {r['breaches_avoided']} "
            f"| {lead} | {least} | {r['false_moves']} |\n"
        )
    precision = total["precision"]
    shown = "n/a" if precision is None else f"{precision:.2f}"
    table += (
        f"\nPrecision (moves ahead that were not false moves / all moves ahead): {shown}. "
        "Horizon 30 s (the default). A jump cannot be forecast: its breach is handled by the "
        f"SLA re-path after the fact. Load average at start: {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores.\n"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    with harness.stack() as s:
        s.tenant(NS)
        for seed in range(args.runs):
            for scenario in args.scenarios:
                runs.append(one_run(s, scenario, seed))
                print(runs[-1], flush=True)
    by_scenario = {n: summarise([r for r in runs if r["scenario"] == n]) for n in args.scenarios}
    total = summarise(runs)
    cmd = f"sudo python -m benchmarks.forecast_lead --runs {args.runs}"
    data = {"by_scenario": by_scenario, "total": total, "runs_detail": runs}
    harness.write("forecast-lead", data, _table(by_scenario, total), cmd)
    print(_table(by_scenario, total))


if __name__ == "__main__":
    main()
