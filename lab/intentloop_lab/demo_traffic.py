"""The demo's traffic: what each example service carries, and the gap a link failure costs.

`show(lab, services)` prints, per service, reachability between its two sites and a short
UDP rate test. `FailureWatch` streams probe packets through every service that a link
failure will move, and prints each one's gap once the controller has re-pathed it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

from intentloop_lab import traffic
from intentloop_lab.labstate import LabState
from intentloop_lab.traffic import Endpoint, TrafficError
from intentloop_lab.traffic_cli import attach_service
from intentloop_lab.traffic_gap import GapResult, GapStream
from intentloop_lab.traffic_iperf import rate

RATE_MBPS = 20.0  # small enough for a busy 2-core laptop, big enough to mean something
RATE_SECONDS = 1.0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def unavailable(state: LabState) -> str | None:
    """Why the demo cannot send traffic here (None: it can)."""
    if os.geteuid() != 0:
        return "traffic between sites needs root (it enters the lab's namespaces)"
    if not state.sites:
        return "this lab publishes no customer sites"
    return None


def _name(service: dict[str, Any]) -> str:
    return f"{service['metadata']['namespace']}/{service['metadata']['name']}"


def show(state: LabState, services: list[dict[str, Any]]) -> None:
    """One line per service: ping between its sites, then a short UDP rate test."""
    for service in services:
        ends = " <-> ".join(f"{e['device']}/{e['interface']}" for e in service["spec"]["endpoints"])
        try:
            with attach_service(state, service) as (ea, eb):
                reach = traffic.ping(ea, eb.ip, count=3, interval=0.1, timeout=0.5)
                offered = min(RATE_MBPS, float(service["spec"]["bandwidthMbps"]))
                line = f"ping {reach.received}/{reach.sent}"
                if reach.rtt_avg_ms is not None:
                    line += f" (rtt {reach.rtt_avg_ms:.2f} ms)"
                if reach.reachable:
                    got = rate(ea, eb, mbps=offered, seconds=RATE_SECONDS)
                    line += (
                        f"; UDP {offered:g} Mbps offered, {got.delivered_mbps:.1f} delivered, "
                        f"loss {got.loss_pct:.1f}%"
                    )
        except (TrafficError, ValueError) as exc:
            line = f"cannot measure: {exc}"
        _say(f"    {_name(service)} ({ends}): {line}")


class FailureWatch:
    """Probe streams through `services` from before a failure until after their re-path."""

    def __init__(self, state: LabState, services: list[dict[str, Any]]) -> None:
        self.state, self.services = state, services
        self._stack = ExitStack()
        self._streams: dict[str, tuple[GapStream, Endpoint, Endpoint]] = {}

    def __enter__(self) -> FailureWatch:
        for service in self.services:
            try:
                ea, eb = self._stack.enter_context(attach_service(self.state, service))
                stream = GapStream(ea, eb, pps=1000, max_seconds=120)
                stream.start()
            except (TrafficError, ValueError) as exc:
                _say(f"    {_name(service)}: no probe stream ({exc})")
                continue
            self._stack.callback(stream.__exit__, None, None, None)
            self._streams[_name(service)] = (stream, ea, eb)
        return self

    def report(self, wait: Callable[[Callable[[], bool], float], None]) -> None:
        """Once traffic flows again through each service (ping), print its gap."""
        for name, (stream, ea, eb) in self._streams.items():
            wait(functools.partial(_flows, ea, eb), 20)
            try:
                result: GapResult = stream.stop()
            except TrafficError as exc:
                _say(f"    {name}: {exc}")
                continue
            again = "flowing again" if result.restored else "STILL NOT FLOWING"
            _say(
                f"    {name}: traffic gap {result.gap_ms:.0f} ms "
                f"({result.lost} packets lost at {result.pps}/s), {again}"
            )

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _flows(a: Endpoint, b: Endpoint) -> bool:
    with contextlib.suppress(TrafficError):
        return traffic.ping(a, b.ip, count=1, timeout=0.5).reachable
    return False


@contextlib.contextmanager
def watching(state: LabState, services: list[dict[str, Any]]) -> Iterator[FailureWatch | None]:
    """A FailureWatch when traffic can be sent here, else None (said in one line)."""
    why = unavailable(state)
    if why:
        _say(f"    (no traffic: {why})")
        yield None
        return
    with FailureWatch(state, services) as watch:
        yield watch
