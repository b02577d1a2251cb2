"""Loss over time between two sites: the traffic gap a customer sees during a failure.

`GapStream` runs `traffic_probe`'s receiver in one site's namespace and its sender in the
other's, at `pps` datagrams per second (`GapStreams`: many pairs at once, a flow each).
Start it, break (and let the controller repair) the network, stop it: the result says how
many packets were lost and the longest interruption — the MTTR as the customer
experiences it. Every process has a hard deadline of its own, so nothing outlives a
crashed caller for long.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intentloop_lab.traffic import Endpoint, TrafficError, in_netns

LAB_ROOT = Path(__file__).resolve().parents[1]  # the source root holding intentloop_lab


@dataclass(frozen=True)
class GapResult:
    sent: int
    received: int
    gap_ms: float
    """Longest interruption between two delivered packets (send-time to send-time)."""
    gap_lost: int
    head_ms: float
    """From the first packet sent to the first delivered: traffic not yet flowing."""
    tail_ms: float
    """From the last delivered packet to the end of the stream: not (yet) restored."""
    max_silence_ms: float
    """Longest time the receiver got nothing (also counts its own or the sender's stalls)."""
    max_delay_ms: float
    """Longest one-way delay: packets held back (e.g. queued for a neighbour) count here."""
    reordered: int
    duplicates: int
    pps: int

    @property
    def lost(self) -> int:
        return max(0, self.sent - self.received)

    @property
    def restored(self) -> bool:
        """Traffic flowed at the end of the stream (a few packets in flight excepted)."""
        return self.received > 0 and self.tail_ms <= max(50.0, 20_000.0 / self.pps)

    def summary(self) -> str:
        if self.restored:
            state = "flowing at the end"
        elif self.received:
            state = f"NOT flowing: nothing delivered in the last {self.tail_ms:.0f} ms"
        else:
            state = "nothing delivered at all"
        return (
            f"{self.received}/{self.sent} delivered ({self.lost} lost) at {self.pps} pps; "
            f"longest gap {self.gap_ms:.0f} ms ({self.gap_lost} lost), "
            f"max delay {self.max_delay_ms:.0f} ms; {state}"
        )


def combine(sender: dict[str, Any], receiver: dict[str, Any], pps: int) -> GapResult:
    """The sender's count and the receiver's record → one GapResult."""
    sent = int(sender["sent"])
    received = int(receiver["received"])
    start, end = int(sender["start_ns"]), int(sender["end_ns"])
    if received:
        head = int(receiver["first_sent_ns"]) - start
        tail = end - int(receiver["last_sent_ns"]) if receiver["last_seq"] < sent - 1 else 0
    else:
        head = tail = end - start
    return GapResult(
        sent=sent,
        received=received,
        gap_ms=int(receiver["gap_ns"]) / 1e6,
        gap_lost=int(receiver["gap_lost"]),
        head_ms=max(0, head) / 1e6,
        tail_ms=max(0, tail) / 1e6,
        max_silence_ms=int(receiver["max_silence_ns"]) / 1e6,
        max_delay_ms=max(0, int(receiver["max_delay_ns"])) / 1e6,
        reordered=int(receiver["reordered"]),
        duplicates=int(receiver["duplicates"]),
        pps=pps,
    )


class _Probe:
    """One probe process; its stdout lines are read by a thread into a queue."""

    def __init__(self, netns: str, args: list[str]) -> None:
        path = [str(LAB_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        argv = in_netns(netns, sys.executable, "-m", "intentloop_lab.traffic_probe", *args)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return False
            if line is None:
                return False
            if line == word:
                return True
        return False

    def result(self, timeout: float) -> dict[str, Any]:
        """The final JSON line; SIGTERM first if it has not ended by itself in `timeout`."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        last: str | None = None
        while True:
            try:
                line = self.lines.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            last = line
        if not last or not last.startswith("{"):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise TrafficError(f"traffic probe gave no result: {err.strip()[-300:]!r}")
        parsed: dict[str, Any] = json.loads(last)
        return parsed

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()

    def result_discarded(self) -> None:
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class GapStreams:
    """Probe flows for many pairs at once: one sender per sending site, one receiver per
    receiving site, `pps` datagrams per second per flow. `start()`, then `stop()` → one
    GapResult per pair, in order."""

    def __init__(
        self,
        pairs: Sequence[tuple[Endpoint, Endpoint]],
        *,
        pps: int = 1000,
        max_seconds: float = 120.0,
    ) -> None:
        if not pairs:
            raise ValueError("no pairs to stream between")
        if not 1 <= pps * len(pairs) <= 20_000:
            raise ValueError(f"pps: {pps} x {len(pairs)} flows outside 1..20000 packets/s")
        self.pairs, self.pps, self.max_seconds = list(pairs), pps, max_seconds
        self.port = random.randint(20_000, 59_999)  # noqa: S311 - a port, not a secret
        self._receivers: dict[str, _Probe] = {}
        self._senders: dict[str, _Probe] = {}

    def _by(self, side: int) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for flow, pair in enumerate(self.pairs):
            groups.setdefault(pair[side].netns, []).append(flow)
        return groups

    def start(self, *, flowing_within: float | None = 10.0) -> None:
        """Start every end; with `flowing_within`, wait until every flow has delivered a
        packet and raise TrafficError if one does not (that service carries nothing)."""
        bound = ["--port", str(self.port), "--seconds", f"{self.max_seconds + 5:g}"]
        for netns, flows in self._by(1).items():
            expect = [a for f in flows for a in ("--expect", str(f))]
            self._receivers[netns] = _Probe(netns, ["recv", *expect, *bound])
        if not all(r.expect("ready", 15) for r in self._receivers.values()):
            self._abort()
            raise TrafficError("a probe receiver did not start")
        for netns, flows in self._by(0).items():
            args = ["send", "--pps", str(self.pps), "--port", str(self.port)]
            args += ["--seconds", f"{self.max_seconds:g}"]
            for f in flows:
                src, dst = self.pairs[f]
                args += ["--flow", f"{f}:{src.ip}:{dst.ip}"]
            self._senders[netns] = _Probe(netns, args)
        if flowing_within is None:
            return
        for netns, receiver in self._receivers.items():
            if not receiver.expect("flowing", flowing_within):
                self._abort()
                raise TrafficError(f"a probe flow into {netns} delivered no packet")

    def stop(self) -> list[GapResult]:
        """End every flow and collect both sides' accounts of it."""
        if not self._senders:
            self._abort()
            raise TrafficError("the probe streams were not running")
        senders, receivers = self._senders, self._receivers
        self._senders, self._receivers = {}, {}
        for probe in senders.values():
            probe.stop()
        try:
            sent = {ns: p.result(timeout=10) for ns, p in senders.items()}
            got: dict[str, Any] = {}
            for probe in receivers.values():
                got.update(probe.result(timeout=2))
        finally:
            for probe in receivers.values():
                probe.stop()
        return [
            combine(sent[src.netns], got[str(flow)], self.pps)
            for flow, (src, _) in enumerate(self.pairs)
        ]

    def __enter__(self) -> GapStreams:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._abort()

    def _abort(self) -> None:
        """Stop whatever still runs, without waiting for a result."""
        for probe in [*self._senders.values(), *self._receivers.values()]:
            probe.stop()
            probe.result_discarded()
        self._senders, self._receivers = {}, {}


class GapStream:
    """One pair's probe stream from `src` to `dst`; `start()`, then `stop()` → GapResult."""

    def __init__(
        self, src: Endpoint, dst: Endpoint, *, pps: int = 1000, max_seconds: float = 120.0
    ) -> None:
        self._streams = GapStreams([(src, dst)], pps=pps, max_seconds=max_seconds)

    def start(self, *, flowing_within: float | None = 10.0) -> None:
        try:
            self._streams.start(flowing_within=flowing_within)
        except TrafficError as exc:
            src, dst = self._streams.pairs[0]
            raise TrafficError(f"no probe packet from {src.ip} reached {dst.ip}") from exc

    def stop(self) -> GapResult:
        return self._streams.stop()[0]

    def __enter__(self) -> GapStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._streams.__exit__(*exc)
