"""Throughput between two sites: UDP at a set rate with iperf3 (Debian's), JSON parsed.

The server runs in the receiving site's namespace for exactly one test (`-1`), bound to
the receiving end's test address; the client in the sending site offers `mbps` for
`seconds`. What counts is what the *receiver* got: iperf3 ≥ 3.12 reports it in the client's
`end.sum_received`; the server's own half-second intervals (`--get-server-output`) give the
*steady* rate, after a `warmup` in which a policer may still be spending its bucket (a
token bucket lets its depth through at line rate before it holds the rate). Rates are UDP
payload: a policer counting whole frames holds payload to rate * 1200 / 1242 on Ethernet.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from intentloop_lab.traffic import Endpoint, TrafficError, in_netns, run

DATAGRAM = 1200  # bytes of UDP payload: below every VLAN interface's MTU in the lab
MAX_SECONDS = 60.0
MAX_MBPS = 10_000.0


@dataclass(frozen=True)
class RateResult:
    offered_mbps: float
    sent_mbps: float
    delivered_mbps: float
    sent_packets: int
    lost_packets: int
    seconds: float
    steady_mbps: float | None = None
    """Delivered after the warm-up (None: no intervals after it)."""

    @property
    def loss_pct(self) -> float:
        if not self.sent_packets:
            return 100.0
        return 100.0 * self.lost_packets / self.sent_packets

    def summary(self) -> str:
        steady = f" (steady {self.steady_mbps:.1f})" if self.steady_mbps is not None else ""
        return (
            f"offered {self.offered_mbps:g} Mbps, sent {self.sent_mbps:.1f}, "
            f"delivered {self.delivered_mbps:.1f} Mbps{steady}, loss {self.loss_pct:.1f}% "
            f"over {self.seconds:.1f}s"
        )


def steady_mbps(report: dict[str, Any], warmup: float) -> float | None:
    """Delivered Mbps over the server's intervals that start after `warmup` seconds."""
    intervals = (report.get("server_output_json") or {}).get("intervals") or []
    after = [i["sum"] for i in intervals if float(i["sum"]["start"]) >= warmup - 1e-3]
    seconds = sum(float(i["seconds"]) for i in after)
    if not after or seconds <= 0:
        return None
    return 8 * sum(float(i["bytes"]) for i in after) / seconds / 1e6


def parse_iperf(report: dict[str, Any], offered_mbps: float, warmup: float = 0.0) -> RateResult:
    """The client's `-J` report of a UDP test → what was sent and what arrived."""
    if "error" in report:
        raise TrafficError(f"iperf3: {report['error']}")
    end = report.get("end", {})
    sent = end.get("sum_sent") or end.get("sum")
    received = end.get("sum_received")
    if not sent or not received:
        raise TrafficError("iperf3 reported no end-of-test summary")
    packets = int(sent.get("packets") or received.get("packets") or 0)
    lost = int(received.get("lost_packets", 0))
    seconds = float(received.get("seconds") or sent.get("seconds") or 0.0)
    delivered_bytes = float(received.get("bytes", 0))
    if delivered_bytes == 0 and packets > lost:  # a receiver summary without bytes
        delivered_bytes = float(sent.get("bytes", 0)) * (packets - lost) / packets
    delivered = 8 * delivered_bytes / seconds / 1e6 if seconds else 0.0
    return RateResult(
        offered_mbps=offered_mbps,
        sent_mbps=float(sent.get("bits_per_second", 0.0)) / 1e6,
        delivered_mbps=delivered,
        sent_packets=packets,
        lost_packets=lost,
        seconds=seconds,
        steady_mbps=steady_mbps(report, warmup),
    )


def _listening(netns: str, port: int) -> bool:
    out = run(in_netns(netns, "ss", "-Hlnt", f"sport = :{port}"), timeout=10, check=False)
    return bool(out.strip())


def _start_server(dst: Endpoint, seconds: float) -> tuple[subprocess.Popen[str], int]:
    """An iperf3 server for one test on a free port of the receiving site."""
    for _ in range(5):
        port = random.randint(20_000, 59_999)  # noqa: S311 - a port, not a secret
        argv = in_netns(dst.netns, "iperf3", "-s", "-1", "-B", dst.ip, "-p", str(port))
        argv += ["-J", "-i", "0.5", "--idle-timeout", str(int(seconds + 10))]
        server = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            if _listening(dst.netns, port):
                return server, port
            time.sleep(0.05)
        _stop(server)
    raise TrafficError(f"iperf3 server did not start in {dst.netns}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rate(
    src: Endpoint, dst: Endpoint, *, mbps: float, seconds: float = 3.0, warmup: float = 0.0
) -> RateResult:
    """Offer `mbps` of UDP from `src` to `dst` for `seconds`; what arrived, and what not
    (`steady_mbps`: what arrived after the first `warmup` seconds)."""
    if not 0 < mbps <= MAX_MBPS:
        raise ValueError(f"mbps: {mbps:g} outside (0, {MAX_MBPS:g}]")
    if not 0.5 <= seconds <= MAX_SECONDS:
        raise ValueError(f"seconds: {seconds:g} outside 0.5..{MAX_SECONDS:g}")
    if not 0 <= warmup <= seconds - 0.5:
        raise ValueError(f"warmup: {warmup:g} must leave at least 0.5 s of the {seconds:g} s")
    server, port = _start_server(dst, seconds)
    try:
        argv = in_netns(src.netns, "iperf3", "-c", dst.ip, "-B", src.ip, "-p", str(port))
        argv += ["-u", "-b", f"{mbps:g}M", "-l", str(DATAGRAM), "-t", f"{seconds:g}", "-J"]
        argv += ["--connect-timeout", "3000", "-i", "0.5", "--get-server-output"]
        out = run(argv, timeout=seconds + 30, check=False)
    finally:
        _stop(server)
    try:
        report = json.loads(out)
    except json.JSONDecodeError as exc:
        raise TrafficError(f"iperf3 printed no JSON: {out.strip()[-200:]!r}") from exc
    return parse_iperf(report, mbps, warmup)
