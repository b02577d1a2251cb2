"""The lab's data plane as the daemon drives it: build, fault, read, tear down.

`DataPlane` owns the namespaces (`fabric`), one `DeviceAgent` per router, the latency
`Prober` and one rtnetlink `LinkDump` per router. The daemon asks it for `telemetry()` every
tick — oper status from the kernel, rates from the interface counters, latency from the
probes — and tells it about faults (`apply_faults`), which become interfaces going down.
Everything it creates carries the lab's namespace prefix, recorded in the state directory
before the first namespace exists, so `lab down` removes it even after a crash.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from intentloop_lab import fabric
from intentloop_lab.agent import DeviceAgent
from intentloop_lab.kernel import LinkDump, LinkStats
from intentloop_lab.labstate import SiteInfo
from intentloop_lab.netplan import LabPlan
from intentloop_lab.probes import Prober
from intentloop_lab.simulation import Faults, InterfaceTelemetry
from intentloop_lab.topology import Topology

PREFIX_FILE = "netns.prefix"
RATE_WINDOW_S = 1.0


class PrivilegeError(RuntimeError):
    """The lab cannot create network namespaces here; the message says what is missing."""


def check_privileges() -> None:
    """Fail early, in one line, when network namespaces cannot be created."""
    if os.geteuid() != 0:
        raise PrivilegeError(
            "the lab's routers are network namespaces: run it as root "
            "(CAP_SYS_ADMIN and CAP_NET_ADMIN), e.g. `sudo make demo`"
        )


def recorded_prefix(state_dir: Path) -> str | None:
    try:
        return (state_dir / PREFIX_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def remove_recorded(state_dir: Path) -> int:
    """Remove the namespaces of the lab last started in `state_dir` (crash or not)."""
    prefix = recorded_prefix(state_dir)
    removed = fabric.remove_namespaces(prefix) if prefix else 0
    (state_dir / PREFIX_FILE).unlink(missing_ok=True)
    return removed


class DataPlane:
    def __init__(self, topology: Topology, plan: LabPlan, state_dir: Path) -> None:
        self.topology = topology
        self.plan = plan
        self.state_dir = state_dir
        self.netem = False
        self.agents = {
            name: DeviceAgent(netns, plan.ports_of(name)) for name, netns in plan.routers.items()
        }
        self.prober: Prober | None = None
        self._dumps: dict[str, LinkDump] = {}
        self._kernel = {
            name: {model: port.kernel for model, port in plan.ports_of(name).items()}
            for name in plan.routers
        }
        self._counters: dict[tuple[str, str], tuple[float, int, int]] = {}
        self._rates: dict[tuple[str, str], tuple[float, float]] = {}

    # --- life ---------------------------------------------------------------------------
    def build(self) -> None:
        """Create everything (call in a thread: it runs a few processes)."""
        check_privileges()
        remove_recorded(self.state_dir)  # a previous lab here that died without cleaning
        (self.state_dir / PREFIX_FILE).write_text(self.plan.prefix + "\n")
        fabric.build(self.plan)
        if self.plan.links:
            first = self.plan.links[0].a
            self.netem = fabric.netem_available(first.netns, first.kernel)
        fabric.shape_links(self.plan, {}, netem=self.netem)
        self._dumps = {name: LinkDump(netns) for name, netns in self.plan.routers.items()}
        self.prober = Prober(self.plan.links)
        if not self.netem:
            self.prober.declared_ms = {link.name: link.latency_ms for link in self.topology.links}

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.prober is not None:
            self.prober.attach(loop)

    def destroy(self) -> None:
        if self.prober is not None:
            self.prober.close()
        for dump in self._dumps.values():
            dump.close()
        self._dumps.clear()
        remove_recorded(self.state_dir)

    def site_infos(self) -> tuple[SiteInfo, ...]:
        """The customer sites as `lab.json` publishes them (what traffic tools need)."""
        return tuple(
            SiteInfo(
                device=site.router,
                port=site.port,
                netns=site.site_end.netns,
                interface=site.site_end.kernel,
                address=site.site_end.address,
                router_address=site.router_end.address,
                attachment=site.router_end.attachment,
            )
            for site in self.plan.sites
        )

    # --- faults -------------------------------------------------------------------------
    def apply_faults(self, faults: Faults, routers: list[str] | None = None) -> None:
        """Lower (or raise again) the ports the faults hold down."""
        for name in routers if routers is not None else list(self.agents):
            self.agents[name].force_down(faults.held_down(name))

    def set_delay(self, faults: Faults, a: str, b: str) -> None:
        link = self.topology.link(a, b)
        delay = faults.delay_ms(link)
        fabric.set_delay(self.plan.link(link.name), delay, netem=self.netem)
        if not self.netem and self.prober is not None:
            self.prober.declared_ms[link.name] = delay

    # --- readings -----------------------------------------------------------------------
    def read(self, router: str) -> dict[str, LinkStats]:
        return self._dumps[router].read()

    def telemetry(self, routers: list[str]) -> dict[tuple[str, str], InterfaceTelemetry]:
        """What the kernel says about every port of `routers` (one dump per router)."""
        if self.prober is not None:
            self.prober.send_all()
        now = time.monotonic()
        values: dict[tuple[str, str], InterfaceTelemetry] = {}
        for router in routers:
            stats = self.read(router)
            for model, kernel in self._kernel[router].items():
                seen = stats.get(kernel)
                if seen is None:
                    continue
                out_rate, in_rate = self._rate((router, model), now, seen)
                values[(router, model)] = InterfaceTelemetry(
                    oper_up=seen.oper_up,
                    latency_ms=self._latency(router, model),
                    out_rate_mbps=out_rate,
                    in_rate_mbps=in_rate,
                    in_octets=seen.rx_bytes,
                    out_octets=seen.tx_bytes,
                )
        return values

    def _rate(self, key: tuple[str, str], now: float, seen: LinkStats) -> tuple[float, float]:
        before = self._counters.get(key)
        if before is None:
            self._counters[key] = (now, seen.tx_bytes, seen.rx_bytes)
            return self._rates.setdefault(key, (0.0, 0.0))
        then, tx, rx = before
        if now - then >= RATE_WINDOW_S:
            seconds = now - then
            self._rates[key] = (
                round((seen.tx_bytes - tx) * 8 / seconds / 1e6, 1),
                round((seen.rx_bytes - rx) * 8 / seconds / 1e6, 1),
            )
            self._counters[key] = (now, seen.tx_bytes, seen.rx_bytes)
        return self._rates.get(key, (0.0, 0.0))

    def _latency(self, router: str, model: str) -> float:
        if self.prober is None:
            return 0.0
        for link in self.topology.links_of(router):
            if link.interface_on(router) == model:
                return self.prober.latency_ms(link.name) or 0.0
        return 0.0

    def settled(self) -> bool:
        """Whether every port is up and every link measured (a fresh lab, before it says
        ready: a controller must not see links flap up as it connects)."""
        for router in self.plan.routers:
            stats = self.read(router)
            if not all(s.oper_up for k in self._kernel[router].values() if (s := stats.get(k))):
                return False
        return self.prober is None or all(
            self.prober.latency_ms(link.name) is not None for link in self.topology.links
        )

    def link_status(self, faults: Faults) -> list[dict[str, Any]]:
        """Per link, as `lab status` prints it: from the kernel, not from a model."""
        rows = []
        for link in self.topology.links:
            a = self.read(link.a).get(self._kernel[link.a][link.a_interface])
            b = self.read(link.b).get(self._kernel[link.b][link.b_interface])
            rate = self._rates.get((link.a, link.a_interface), (0.0, 0.0))
            latency = self.prober.latency_ms(link.name) if self.prober is not None else None
            rows.append(
                {
                    "name": link.name,
                    "a": link.a,
                    "b": link.b,
                    "capacity_mbps": link.capacity_mbps,
                    "admin_up": faults.admin_up(link),
                    "oper_up": bool(a and b and a.oper_up and b.oper_up),
                    "nominal_latency_ms": link.latency_ms,
                    "injected_latency_ms": faults.injected_ms(link),
                    "latency_ms": latency if latency is not None else faults.delay_ms(link),
                    "utilisation_mbps": max(rate),
                    "delay": "netem" if self.netem else "declared",
                }
            )
        return rows
