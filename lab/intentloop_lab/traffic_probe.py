"""A sequence-numbered UDP probe stream: `python -m intentloop_lab.traffic_probe send|recv`.

Run inside a site's namespace (`ip netns exec NS python -m ...`). The sender stamps every
datagram with a sequence number and its send time (CLOCK_MONOTONIC, which every network
namespace of one machine shares) at a fixed rate; the receiver keeps what arrives and,
when the sender's end marker (or SIGTERM, or its own deadline) stops it, prints one JSON
line: what arrived, and the longest interruption. The interruption is measured between
the send times of the last datagram before a run of lost ones and the first after it, so
a sender or receiver that was merely descheduled for a while (2 busy cores) does not
count as a gap: only lost packets do. Standard library only: it starts fast.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import socket
import struct
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any

MAGIC = b"ILTP"
HEADER = struct.Struct("!4sBHQQ")  # magic, flags, flow, sequence, send time (ns)
END = 1
SIZE = 64
STALL_NS = 100_000_000  # a sender this far behind its schedule restarts it, not bursts


class _Stop:
    def __init__(self) -> None:
        self.set = False
        signal.signal(signal.SIGTERM, self._handler)
        signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        self.set = True


def _flow(text: str) -> tuple[int, str, str]:
    """`ID:SOURCE:DEST` → (id, source address, destination address)."""
    flow, source, dest = text.split(":")
    return int(flow), source, dest


def send(flows: list[tuple[int, str, str]], port: int, pps: int, seconds: float) -> dict[str, Any]:
    """Every `1/pps` s one datagram per flow, from its source to its destination."""
    stop = _Stop()
    socks = []
    for _, source, _ in flows:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((source, 0))
        socks.append(sock)
    pad = b"\0" * (SIZE - HEADER.size)
    interval = 1_000_000_000 // pps
    start = now = time.monotonic_ns()
    deadline = start + int(seconds * 1e9)
    due, seq, errors = start, 0, 0
    print("ready", flush=True)
    while not stop.set and now < deadline:
        if now < due:
            time.sleep((due - now) / 1e9)
        else:
            for (flow, _, dest), sock in zip(flows, socks, strict=True):
                try:
                    sock.sendto(HEADER.pack(MAGIC, 0, flow, seq, now) + pad, (dest, port))
                except OSError:  # no route / neighbour while the path is down: a lost packet
                    errors += 1
            seq += 1
            due = now if now - due > STALL_NS else due + interval
        now = time.monotonic_ns()
    for _ in range(5):  # the end marker carries the count; several, in case some are lost
        for (flow, _, dest), sock in zip(flows, socks, strict=True):
            try:
                sock.sendto(HEADER.pack(MAGIC, END, flow, seq, now) + pad, (dest, port))
            except OSError:
                errors += 1
    return {"sent": seq, "start_ns": start, "end_ns": now, "send_errors": errors}


class _Flow:
    def __init__(self) -> None:
        self.seqs, self.sent, self.arrived = array("Q"), array("Q"), array("Q")
        self.total: int | None = None


def receive(bind: str, port: int, expect: set[int], seconds: float) -> dict[str, Any]:
    """Keep what arrives per flow until every expected flow's end marker (or SIGTERM, or
    `seconds`); print `flowing` once every expected flow has delivered a packet."""
    stop = _Stop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.bind((bind, port))
    sock.settimeout(0.05)
    flows: dict[int, _Flow] = {}
    deadline = time.monotonic_ns() + int(seconds * 1e9)
    linger_until, flowing = 0, False
    print("ready", flush=True)
    while not stop.set:
        now = time.monotonic_ns()
        if now >= deadline or (linger_until and now >= linger_until):
            break
        try:
            data = sock.recv(2048)
        except TimeoutError:
            continue
        if len(data) < HEADER.size:
            continue
        magic, flags, flow_id, seq, stamp = HEADER.unpack_from(data)
        if magic != MAGIC or flow_id not in expect:
            continue
        flow = flows.setdefault(flow_id, _Flow())
        if flags & END:
            flow.total = seq
            if all(f.total is not None for f in flows.values()) and len(flows) == len(expect):
                linger_until = linger_until or time.monotonic_ns() + 300_000_000
            continue
        flow.seqs.append(seq)
        flow.sent.append(stamp)
        flow.arrived.append(time.monotonic_ns())
        if not flowing and len(flows) == len(expect):
            flowing = True
            print("flowing", flush=True)
    empty = _Flow()
    return {
        str(i): {**summarise(f.seqs, f.sent, f.arrived), "total": f.total}
        for i in sorted(expect)
        for f in [flows.get(i, empty)]
    }


def summarise(seqs: Sequence[int], sent: Sequence[int], arrived: Sequence[int]) -> dict[str, Any]:
    """What arrived: counts, first/last, the longest run of lost packets (in send time)."""
    first: dict[int, int] = {}
    for seq, stamp in zip(seqs, sent, strict=True):
        first.setdefault(seq, stamp)
    order = sorted(first)
    gap_ns, gap_lost, gap_at = 0, 0, None
    for a, b in itertools.pairwise(order):
        if b > a + 1 and first[b] - first[a] > gap_ns:
            gap_ns, gap_lost, gap_at = first[b] - first[a], b - a - 1, first[a]
    silence = max((b - a for a, b in itertools.pairwise(arrived)), default=0)
    reordered = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    delay = max((r - t for t, r in zip(sent, arrived, strict=True)), default=0)
    return {
        "received": len(order),
        "duplicates": len(seqs) - len(order),
        "reordered": reordered,
        "first_seq": order[0] if order else None,
        "first_sent_ns": first[order[0]] if order else None,
        "last_seq": order[-1] if order else None,
        "last_sent_ns": first[order[-1]] if order else None,
        "gap_ns": gap_ns,
        "gap_lost": gap_lost,
        "gap_at_ns": gap_at,
        "max_silence_ns": silence,
        "max_delay_ns": delay,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m intentloop_lab.traffic_probe")
    sub = parser.add_subparsers(dest="role", required=True)
    s = sub.add_parser("send")
    s.add_argument("--flow", type=_flow, action="append", required=True, help="ID:SRC:DST")
    s.add_argument("--pps", type=int, default=1000, help="datagrams per second per flow")
    r = sub.add_parser("recv")
    r.add_argument("--bind", default="0.0.0.0")
    r.add_argument("--expect", type=int, action="append", required=True, help="a flow ID")
    for p in (s, r):
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--seconds", type=float, default=60.0, help="hard upper bound")
    args = parser.parse_args(argv)
    if args.role == "send":
        if not 1 <= args.pps * len(args.flow) <= 20_000:
            parser.error("--pps times the number of flows must be 1..20000")
        result = send(args.flow, args.port, args.pps, args.seconds)
    else:
        result = receive(args.bind, args.port, set(args.expect), args.seconds)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
