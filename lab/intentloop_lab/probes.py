"""Latency measured across every link, the way routers run TWAMP: a timed echo.

Each link has a UDP socket in each of its two routers' namespaces, bound to the ends'
underlay addresses on the TWAMP port. Every `send_all()` the `a` end sends a timestamped
datagram to the `b` end, which echoes it; half the round trip is the link's one-way
latency, so a `tc netem` delay (on both ends) shows up exactly. As in TWAMP, the reflector
returns its receive and send times and the kernel stamps every arrival (SO_TIMESTAMPNS),
so the time the datagrams wait for the event loop is taken out of the round trip. The
sockets live in the daemon's event loop: no process, no thread per probe. The figure is the
smallest of the last few samples, as delay monitors report it.
A kernel without netem cannot delay the packets, so the declared delay (see `fabric`) is
added to what the wire measured.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque

from intentloop_lab.kernel import udp_socket
from intentloop_lab.netplan import LinkPlan

TWAMP_PORT = 862
_MAGIC = 0x494C5057  # "ILPW"
_FORMAT = "=LLQQQ"  # magic, seq, sent, reflector received, reflector sent (ns)
_SO_TIMESTAMPNS = 35
_ANCILLARY = socket.CMSG_SPACE(16)
_WINDOW = 5


class _LinkProbe:
    def __init__(self, link: LinkPlan) -> None:
        self.link = link
        self.sender = udp_socket(link.a.netns, link.a.address, TWAMP_PORT)
        self.reflector = udp_socket(link.b.netns, link.b.address, TWAMP_PORT)
        self.seq = 0
        self.samples: deque[float] = deque(maxlen=_WINDOW)

    def close(self) -> None:
        self.sender.close()
        self.reflector.close()


class Prober:
    """One `_LinkProbe` per link; `latency_ms(link)` is the last measurement."""

    def __init__(self, links: tuple[LinkPlan, ...]) -> None:
        self._probes = {link.name: _LinkProbe(link) for link in links}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.declared_ms: dict[str, float] = {}

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for probe in self._probes.values():
            loop.add_reader(probe.reflector.fileno(), _reflect, probe.reflector)
            loop.add_reader(probe.sender.fileno(), _receive, probe)

    def close(self) -> None:
        for probe in self._probes.values():
            if self._loop is not None:
                self._loop.remove_reader(probe.reflector.fileno())
                self._loop.remove_reader(probe.sender.fileno())
            probe.close()
        self._probes.clear()

    def send_all(self) -> None:
        for probe in self._probes.values():
            probe.seq = (probe.seq + 1) & 0xFFFFFFFF
            payload = struct.pack(_FORMAT, _MAGIC, probe.seq, time.time_ns(), 0, 0)
            try:
                probe.sender.sendto(payload, (probe.link.b.address, TWAMP_PORT))
            except OSError:  # the link is down: no route to the far end
                continue

    def latency_ms(self, link: str) -> float | None:
        """Half the last round trip (plus the declared delay when the kernel has no netem)."""
        samples = self._probes[link].samples
        if not samples:
            return None
        return round(min(samples) + self.declared_ms.get(link, 0.0), 1)


def _stamped(sock: socket.socket) -> tuple[bytes, int, tuple[str, int]] | None:
    """One datagram, the kernel's arrival time (ns, wall clock) and its sender."""
    try:
        payload, ancillary, _flags, sender = sock.recvmsg(64, _ANCILLARY)
    except OSError:  # BlockingIOError included: nothing more to read
        return None
    arrived = time.time_ns()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack_from("=qq", data)
            arrived = seconds * 1_000_000_000 + nanoseconds
    return payload, arrived, sender


def _reflect(sock: socket.socket) -> None:
    while (got := _stamped(sock)) is not None:
        payload, arrived, sender = got
        if len(payload) != struct.calcsize(_FORMAT):
            continue
        magic, seq, sent, _, _ = struct.unpack(_FORMAT, payload)
        try:
            sock.sendto(struct.pack(_FORMAT, magic, seq, sent, arrived, time.time_ns()), sender)
        except OSError:
            continue


def _receive(probe: _LinkProbe) -> None:
    while (got := _stamped(probe.sender)) is not None:
        payload, arrived, _sender = got
        if len(payload) != struct.calcsize(_FORMAT):
            continue
        magic, _seq, sent, reflected_in, reflected_out = struct.unpack(_FORMAT, payload)
        if magic != _MAGIC:
            continue
        round_trip = (arrived - sent) - (reflected_out - reflected_in)
        probe.samples.append(max(round_trip, 0) / 2e6)
