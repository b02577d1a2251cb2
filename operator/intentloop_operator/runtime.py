"""What the operator keeps in memory: the topology, device specs, desired device configs.

Built once at start-up from full lists (before any handler runs), then kept current
incrementally by watch events — never rebuilt from lists on every pass. Reservations are
restored from the intents' own status, so a restart neither forgets nor double-counts
what was admitted. One `asyncio.Lock` per device serialises changes to that device, so two
intents touching the same device compose instead of overwriting each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intentloop_intents import topology as topo
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources.inventory import DeviceSpec, LinkSpec
from intentloop_operator import logs
from intentloop_operator.allocations import AllocationCache
from intentloop_operator.resumption import Resumption
from intentloop_operator.waitlist import WaitList

log = logs.get("intentloop.runtime")


def link_spec(name: str, spec: dict[str, Any]) -> topo.LinkSpec:
    s = LinkSpec.model_validate(spec)
    return topo.LinkSpec(
        name=name,
        a=topo.Endpoint(s.a.device, s.a.interface),
        b=topo.Endpoint(s.b.device, s.b.interface),
        capacity_mbps=float(s.capacity_mbps),
        latency_ms=float(s.latency_ms),
        cost=float(s.cost),
        srlgs=frozenset(s.srlgs),
    )


def service_owner(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def slice_owner(namespace: str, name: str) -> str:
    return f"slice:{namespace}/{name}"


@dataclass
class Runtime:
    topology: topo.Topology = field(default_factory=topo.Topology)
    devices: dict[str, DeviceSpec] = field(default_factory=dict)
    desired: dict[str, DeviceConfigTree] = field(default_factory=dict)
    desired_generation: dict[str, int] = field(default_factory=dict)  # of our last write
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)
    # slice "namespace/name" -> {service owner: Mbps}: what each member spends of the budget.
    slice_members: dict[str, dict[str, int]] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    allocations: AllocationCache = field(default_factory=AllocationCache)
    # customer ports: (device, interface) -> the namespace they are assigned to
    ports: dict[tuple[str, str], str] = field(default_factory=dict)
    # -- assurance state -------------------------------------------------------------------
    # services by owner "namespace/name": the last object seen (spec, status, uid, ...).
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_links: dict[str, frozenset[str]] = field(default_factory=dict)
    link_ends: dict[str, dict[str, bool]] = field(default_factory=dict)
    link_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    links_dirty: set[str] = field(default_factory=set)
    repath: set[str] = field(default_factory=set)
    sla: dict[str, Any] = field(default_factory=dict)  # owner -> latest sla.SlaVerdict
    drift: dict[str, str] = field(default_factory=dict)  # device -> what deviates (report)
    failed_transactions: dict[str, str] = field(default_factory=dict)  # owner -> why
    alarms: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    _service_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    waiting: WaitList = field(default_factory=WaitList)  # services waiting on the world
    heard: dict[str, float] = field(default_factory=dict)  # device -> last telemetry (monotonic)
    # devices the telemetry stream took down in the topology (their Device status may still
    # say reachable), and devices whose Device status says unreachable (the probe's word)
    stream_down: set[str] = field(default_factory=set)
    status_unreachable: set[str] = field(default_factory=set)
    resumption: Resumption = field(default_factory=Resumption)  # start-up, see `resumption`

    def lock(self, device: str) -> asyncio.Lock:
        return self._locks.setdefault(device, asyncio.Lock())

    def service_lock(self, owner: str) -> asyncio.Lock:
        """One writer of a service's realisation at a time: its kopf handlers (change and
        deletion), re-paths and healing all take it."""
        return self._service_locks.setdefault(owner, asyncio.Lock())

    # -- telemetry ---------------------------------------------------------------------------

    def set_link_end(self, link: str, device: str, up: bool) -> None:
        """One end's oper state; the link is up only while every reporting end says so."""
        ends = self.link_ends.setdefault(link, {})
        if ends.get(device) == up:
            return
        ends[device] = up
        state = self.topology.link(link)
        oper = all(ends.values())
        if state is not None and state.oper_up != oper:
            self.topology.set_link_state(link, oper_up=oper)
            log.info("link.oper.changed", kind="Link", name=link, up=oper)
            self.link_changed(link)
        self.links_dirty.add(link)

    def set_link_latency(self, link: str, latency_ms: float) -> None:
        state = self.topology.link(link)
        if state is None or state.measured_latency_ms == latency_ms:
            return
        before = state.measured_latency_ms
        self.topology.set_measured_latency(link, latency_ms)
        if before is None or abs(before - latency_ms) > max(0.05 * before, 0.1):
            self.links_dirty.add(link)
            self.wake.set()

    def set_link_rate(self, link: str, device: str, mbps: float) -> None:
        rates = self.link_rates.setdefault(link, {})
        before = rates.get(device)
        rates[device] = mbps
        if before is None or abs(before - mbps) > max(0.05 * before, 1.0):
            self.links_dirty.add(link)

    def link_changed(self, link: str) -> None:
        """A link went down or up: every service routed over it is looked at again."""
        for owner, links in self.service_links.items():
            if link in links:
                self.repath.add(owner)
        self.wake.set()
        self.waiting.nudge()

    def device_changed(self, device: str) -> None:
        """A device came or went: services whose path crosses it are looked at again."""
        links = set(self.topology.incident(device))
        for owner, obj in self.services.items():
            path = obj.get("status", {}).get("path", [])
            if device in path or links & self.service_links.get(owner, frozenset()):
                self.repath.add(owner)
        self.wake.set()
        self.waiting.nudge()

    def link_status(self, link: str) -> dict[str, Any] | None:
        state = self.topology.link(link)
        if state is None:
            return None
        ends = self.link_ends.get(link, {})
        rates = self.link_rates.get(link, {})
        status: dict[str, Any] = {
            "operState": ("up" if state.oper_up else "down") if ends else "unknown",
            "reservedMbps": round(state.capacity_mbps - state.free_mbps),
        }
        if state.measured_latency_ms is not None:
            status["measuredLatencyMs"] = round(state.measured_latency_ms, 3)
        if rates:
            status["utilisationMbps"] = round(max(rates.values()), 3)
        return status

    def touch_links(self, links: Iterable[str]) -> None:
        self.links_dirty.update(links)

    # -- inventory events -----------------------------------------------------------------

    def upsert_device(self, name: str, spec: dict[str, Any], status: dict[str, Any]) -> None:
        try:
            self.devices[name] = DeviceSpec.model_validate(spec)
        except ValidationError:
            log.warning("device.spec.invalid", kind="Device", name=name)
            return
        reachable = status.get("reachable") is not False
        came_back = reachable and name in self.status_unreachable  # the probe's word
        if reachable:
            self.status_unreachable.discard(name)
        else:
            self.status_unreachable.add(name)
        if came_back:
            self.stream_down.discard(name)
        elif reachable and name in self.stream_down:
            return  # an unrelated status write: the stream says when it is back
        before = self.topology.device(name)
        self.topology.upsert_device(name, reachable=reachable)
        if before is not None and before.reachable != reachable:
            self.device_changed(name)

    def stream_lost(self, name: str) -> None:
        """The device's telemetry stream broke: route around it now, without waiting for
        the probe (which confirms, and writes the Device's status)."""
        state = self.topology.device(name)
        if state is None:
            return
        self.stream_down.add(name)
        if state.reachable:
            self.topology.upsert_device(name, reachable=False)
            self.device_changed(name)

    def stream_heard(self, name: str) -> None:
        """The stream delivers again: undo what `stream_lost` did — unless the probe has
        meanwhile said the device is unreachable (then its next good probe says otherwise).
        Without this a device that came back before any probe missed stayed down in the
        topology, and its alarm active, while its status said reachable."""
        self.stream_down.discard(name)
        state = self.topology.device(name)
        if state is not None and not state.reachable and name not in self.status_unreachable:
            self.topology.upsert_device(name, reachable=True)
            self.device_changed(name)

    def remove_device(self, name: str) -> None:
        self.devices.pop(name, None)
        self.stream_down.discard(name)
        self.status_unreachable.discard(name)
        self.topology.remove_device(name)

    def upsert_link(self, name: str, spec: dict[str, Any], status: dict[str, Any]) -> None:
        try:
            ls = link_spec(name, spec)
        except (ValidationError, topo.TopologyError):
            log.warning("link.spec.invalid", kind="Link", name=name)
            return
        state = status.get("operState")
        self.topology.upsert_link(ls, oper_up=None if state in (None, "unknown") else state == "up")
        latency = status.get("measuredLatencyMs")
        if latency is not None:
            self.topology.set_measured_latency(name, float(latency))

    def remove_link(self, name: str) -> None:
        self.topology.remove_link(name)

    # -- start-up ---------------------------------------------------------------------------

    def load(
        self,
        *,
        devices: Iterable[dict[str, Any]],
        links: Iterable[dict[str, Any]],
        device_configs: Iterable[dict[str, Any]],
        slices: Iterable[dict[str, Any]],
        services: Iterable[dict[str, Any]],
    ) -> None:
        for d in devices:
            self.upsert_device(d["metadata"]["name"], d.get("spec", {}), d.get("status", {}))
        for link in links:
            self.upsert_link(link["metadata"]["name"], link.get("spec", {}), link.get("status", {}))
        for dc in device_configs:
            spec = dc.get("spec", {})
            device = spec.get("device", dc["metadata"]["name"])
            self.desired[device] = DeviceConfigTree.model_validate(spec.get("config", {}))
            self.desired_generation[device] = int(dc["metadata"].get("generation") or 0)
        for sl in slices:
            self.restore_slice(sl)
        services = list(services)
        for svc in services:
            self.restore_service(svc)
        self.resumption.load(
            (service_owner(s["metadata"]["namespace"], s["metadata"]["name"]) for s in services),
            self.desired,
        )

    def link_ends_by_name(self) -> dict[str, tuple[str, str]]:
        """Each Link's two devices, by Link name."""
        return {
            link.name: (link.spec.a.device, link.spec.b.device) for link in self.topology.links()
        }

    def restore_slice(self, obj: dict[str, Any]) -> None:
        meta, status = obj["metadata"], obj.get("status", {})
        key = service_owner(meta["namespace"], meta["name"])
        self.slices[key] = obj
        if status.get("phase") != "Admitted":
            return
        links = {name for path in status.get("reserved", []) for name in path.get("links", [])}
        mbps = obj["spec"]["guaranteedBandwidthMbps"]
        self.topology.reserve(
            slice_owner(meta["namespace"], meta["name"]), links, mbps, check_capacity=False
        )

    def restore_service(self, obj: dict[str, Any]) -> None:
        meta, status, spec = obj["metadata"], obj.get("status", {}), obj.get("spec", {})
        links = [*status.get("pathLinks", []), *status.get("backupPathLinks", [])]
        if not links:
            return
        owner = service_owner(meta["namespace"], meta["name"])
        self.services[owner] = obj
        self.service_links[owner] = frozenset(links)
        bandwidth = int(spec.get("bandwidthMbps", 0))
        slice_ref = spec.get("sliceRef")
        if slice_ref:
            key = service_owner(meta["namespace"], slice_ref["name"])
            self.slice_members.setdefault(key, {})[owner] = bandwidth
            return
        self.topology.reserve(owner, links, float(bandwidth), check_capacity=False)
