"""The lab's fault bookkeeping and the telemetry publisher — no physics any more.

What the links do is the kernel's business now (see `fabric`, `agent`, `probes`): a link is
up when its veths carry, its latency is what the probes measure, its load is what the
counters count. What is left here is plain data a person changes: which links someone
failed, how much delay someone injected, which routers someone stopped — and which ports
that holds down on which router (`Faults.held_down`). `TelemetryPublisher` pushes the
values read from the kernel into the routers' gNMI targets (or their NETCONF relay's state
file), only what changed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from intentloop_lab import netconf_relay
from intentloop_lab.topology import Link, Topology

STATE_REFRESH_S = 1.0


@dataclass(frozen=True)
class InterfaceTelemetry:
    oper_up: bool
    latency_ms: float
    out_rate_mbps: float
    in_rate_mbps: float = 0.0
    in_octets: int = 0  # the kernel's byte counters
    out_octets: int = 0


@dataclass
class _LinkFaults:
    admin_up: bool = True
    injected_latency_ms: float = 0.0


@dataclass
class Faults:
    """What people did to the lab; every method is cheap and free of I/O."""

    topology: Topology
    _links: dict[frozenset[str], _LinkFaults] = field(init=False)
    _running: dict[str, bool] = field(init=False)

    def __post_init__(self) -> None:
        self._links = {link.key(): _LinkFaults() for link in self.topology.links}
        self._running = {r.name: True for r in self.topology.routers}

    def set_link_admin(self, a: str, b: str, *, up: bool) -> Link:
        link = self.topology.link(a, b)
        self._links[link.key()].admin_up = up
        return link

    def inject_latency(self, a: str, b: str, extra_ms: float) -> Link:
        """Add `extra_ms` on top of the link's nominal latency (0 clears the injection)."""
        if extra_ms < 0:
            raise ValueError(f"injected latency must be >= 0 ms, got {extra_ms}")
        link = self.topology.link(a, b)
        self._links[link.key()].injected_latency_ms = float(extra_ms)
        return link

    def set_running(self, router: str, *, running: bool) -> None:
        self.topology.router(router)
        self._running[router] = running

    def is_running(self, router: str) -> bool:
        return self._running[router]

    def admin_up(self, link: Link) -> bool:
        return self._links[link.key()].admin_up

    def injected_ms(self, link: Link) -> float:
        return self._links[link.key()].injected_latency_ms

    def delay_ms(self, link: Link) -> float:
        """The one-way delay the link's wire should have: nominal plus injected."""
        return link.latency_ms + self.injected_ms(link)

    def held_down(self, router: str) -> frozenset[str]:
        """The ports of `router` a fault holds down, by model name.

        A stopped router lowers every port (its neighbours lose carrier); a failed link
        lowers its `a` end only, so the `b` end sees what a cut fibre looks like: no carrier.
        """
        if not self._running[router]:
            return frozenset(self.topology.interfaces_of(router))
        return frozenset(
            link.a_interface
            for link in self.topology.links_of(router)
            if link.a == router and not self._links[link.key()].admin_up
        )


class TelemetrySink(Protocol):
    """The setters of a lab gNMI target that the publisher drives."""

    def set_oper_status(self, interface: str, up: bool) -> None: ...

    def set_latency(self, interface: str, ms: float) -> None: ...

    def set_out_rate(self, interface: str, mbps: float) -> None: ...

    def set_in_rate(self, interface: str, mbps: float) -> None: ...

    def set_counters(self, interface: str, in_octets: int, out_octets: int) -> None: ...


class TelemetryPublisher:
    """Pushes kernel readings into gNMI targets, only what changed since the last push.

    Pushing only changes keeps a fault's ON_CHANGE update from queueing behind hundreds of
    unchanged values; `forget()` makes a restarted target receive everything again.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], InterfaceTelemetry] = {}

    def forget(self, router: str) -> None:
        for key in [k for k in self._last if k[0] == router]:
            del self._last[key]

    def publish(
        self,
        values: Mapping[tuple[str, str], InterfaceTelemetry],
        sinks: Mapping[str, TelemetrySink],
    ) -> int:
        """Push changed values to the sinks present; returns how many interfaces changed."""
        changed = 0
        for (router, interface), value in values.items():
            sink = sinks.get(router)
            if sink is None:
                continue
            before = self._last.get((router, interface))
            if before == value:
                continue
            _push(sink, interface, value, before)
            self._last[(router, interface)] = value
            changed += 1
        return changed


def _push(
    sink: TelemetrySink,
    interface: str,
    value: InterfaceTelemetry,
    before: InterfaceTelemetry | None,
) -> None:
    # Oper status first: it is the ON_CHANGE leaf a controller is waiting for.
    if before is None or before.oper_up != value.oper_up:
        sink.set_oper_status(interface, value.oper_up)
    if before is None or before.latency_ms != value.latency_ms:
        sink.set_latency(interface, value.latency_ms)
    if before is None or before.out_rate_mbps != value.out_rate_mbps:
        sink.set_out_rate(interface, value.out_rate_mbps)
    if before is None or before.in_rate_mbps != value.in_rate_mbps:
        sink.set_in_rate(interface, value.in_rate_mbps)
    if before is None or (before.in_octets, before.out_octets) != (
        value.in_octets,
        value.out_octets,
    ):
        sink.set_counters(interface, value.in_octets, value.out_octets)


class InterfaceStateFile:
    """The telemetry sink of a router without gNMI: a file its NETCONF relay watches.

    The publisher's setters only record; `flush` writes the whole state (atomically) when
    something changed, and at least every `STATE_REFRESH_S` so the file stays current
    even if someone removed it. The relay decides what is a change and what a sample.
    """

    def __init__(self, path: Path, interfaces: tuple[str, ...]) -> None:
        self.path = path
        up = netconf_relay.InterfaceState(oper_up=True, latency_ms=0.0, out_rate_mbps=0.0)
        self._values = dict.fromkeys(interfaces, up)
        self._changed_at_ns = time.time_ns()
        self._dirty = True
        self._written_at = 0.0

    def set_oper_status(self, interface: str, up: bool) -> None:
        self._set(interface, self._values[interface]._replace(oper_up=up))

    def set_latency(self, interface: str, ms: float) -> None:
        self._set(interface, self._values[interface]._replace(latency_ms=ms))

    def set_out_rate(self, interface: str, mbps: float) -> None:
        self._set(interface, self._values[interface]._replace(out_rate_mbps=mbps))

    def set_in_rate(self, interface: str, mbps: float) -> None:
        """Not part of the notification: nothing to record."""

    def set_counters(self, interface: str, in_octets: int, out_octets: int) -> None:
        """Not part of the notification: nothing to record."""

    def _set(self, interface: str, after: netconf_relay.InterfaceState) -> None:
        if after != self._values[interface]:
            self._values[interface] = after
            self._changed_at_ns = time.time_ns()
            self._dirty = True

    def flush(self) -> None:
        now = time.monotonic()
        if not self._dirty and now - self._written_at < STATE_REFRESH_S:
            return
        try:
            netconf_relay.write_state(str(self.path), self._values, self._changed_at_ns)
        except FileNotFoundError:  # the router's directory is not there (yet, or any more)
            return
        self._dirty = False
        self._written_at = now
