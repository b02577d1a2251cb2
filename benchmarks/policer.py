"""Policer accuracy: a service offered twice its bandwidth delivers its bandwidth.

Run from the repository root, as root (it enters the lab's namespaces):
    python -m benchmarks.policer [--bandwidths 5 20 50] [--runs 3]

Per bandwidth B, one L2 service r3/eth1 <-> r5/eth1 (NETCONF routers; the operator
compiles the policer, the lab agent makes it a token bucket in the kernel). Each run offers
0.5 B (nothing may be lost) and 2 B of iperf3 UDP for 6 s. The steady rate is what arrived
after a 2 s warm-up, in which the bucket spends its depth; the average over the whole test
shows what the depth lets through. Rates are UDP payload (1,200-byte datagrams): a policer
counting whole Ethernet frames holds payload to B x 1200 / 1242, which is the "ideal"
column.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import yaml

from benchmarks import harness
from intentloop_lab import traffic
from intentloop_lab.traffic_cli import service_attachments
from intentloop_lab.traffic_iperf import DATAGRAM, rate

GROUP, VERSION = harness.GROUP, harness.VERSION
NS = "bench-policer"
FRAME = DATAGRAM + 8 + 20 + 14  # UDP, IPv4 and Ethernet headers around the payload
SECONDS, WARMUP = 6.0, 2.0


def _service(mbps: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NetworkService",
            "metadata": {"name": f"policed-{mbps}", "namespace": NS},
            "spec": {
                "endpoints": [
                    {"device": "r3", "interface": "eth1"},
                    {"device": "r5", "interface": "eth1"},
                ],
                "bandwidthMbps": mbps,
            },
        }
    )


def _ready(s: harness.Stack, name: str) -> dict[str, Any] | None:
    obj: dict[str, Any] = s.api.get_namespaced_custom_object(
        GROUP, VERSION, NS, "networkservices", name
    )
    return obj if obj.get("status", {}).get("phase") == "Ready" else None


def run_bandwidth(s: harness.Stack, mbps: int, runs: int) -> dict[str, Any]:
    assert s.lab is not None
    s.kubectl("apply", "-f", "-", input=_service(mbps))
    service = harness.wait(lambda: _ready(s, f"policed-{mbps}"), 120, "service Ready", 0.2)
    under, steady, average = [], [], []
    with traffic.attach(*service_attachments(s.lab, service)) as (a, b):
        harness.wait(lambda: traffic.ping(a, b.ip, count=1).reachable, 30, "traffic", 0.2)
        for _ in range(runs):
            under.append(rate(a, b, mbps=mbps / 2, seconds=3).loss_pct)
            over = rate(a, b, mbps=2 * mbps, seconds=SECONDS, warmup=WARMUP)
            assert over.steady_mbps is not None, "iperf3 gave no intervals"
            steady.append(over.steady_mbps)
            average.append(over.delivered_mbps)
    s.kubectl("delete", "networkservice", "-n", NS, f"policed-{mbps}", "--timeout=120s")
    ideal = mbps * DATAGRAM / FRAME
    med = statistics.median(steady)
    return {
        "bandwidth_mbps": mbps,
        "runs": runs,
        "ideal_payload_mbps": ideal,
        "steady_mbps": {"median": med, "all": steady},
        "error_vs_bandwidth_pct": 100 * (med - mbps) / mbps,
        "error_vs_ideal_pct": 100 * (med - ideal) / ideal,
        "average_mbps": {"median": statistics.median(average), "all": average},
        "loss_at_half_pct": {"max": max(under), "all": under},
    }


def _table(results: list[dict[str, Any]]) -> str:
    table = (
        "| bandwidth (Mbps) | offered 2x: steady delivered (Mbps) | vs bandwidth | "
        "ideal payload (Mbps) | vs ideal | average incl. bucket depth (Mbps) | "
        "loss at 0.5x (max %) |\n|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for r in results:
        table += (
            f"| {r['bandwidth_mbps']} | {r['steady_mbps']['median']:.1f} "
            f"| {r['error_vs_bandwidth_pct']:+.1f}% | {r['ideal_payload_mbps']:.1f} "
            f"| {r['error_vs_ideal_pct']:+.1f}% | {r['average_mbps']['median']:.1f} "
            f"| {r['loss_at_half_pct']['max']:.1f} |\n"
        )
    table += (
        f"\nMedian of the runs; {SECONDS:g} s tests, steady = after {WARMUP:g} s. UDP payload "
        f"rates ({DATAGRAM}-byte datagrams).\n"
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bandwidths", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with harness.stack() as s:
        s.tenant(NS)
        for mbps in args.bandwidths:
            results.append(run_bandwidth(s, mbps, args.runs))
    bws = " ".join(map(str, args.bandwidths))
    cmd = f"sudo python -m benchmarks.policer --bandwidths {bws} --runs {args.runs}"
    harness.write("policer", {"results": results}, _table(results), cmd)
    print(_table(results))


if __name__ == "__main__":
    main()
