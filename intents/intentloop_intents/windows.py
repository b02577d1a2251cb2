"""Maintenance windows: when to drain, what to keep off, which alarms are expected.

Pure: the operator hands in the Maintenance specs, the topology, the services and the
time. A window moves through four phases -- `Scheduled`, `Draining` (from `drainBeforeS`
before the start: services are moved away, make-before-break), `InProgress` (the target
may go down: its alarms are expected), `Completed` -- decided by the clock alone, so a
restarted operator lands in the same phase.

Alarms marked expected are those about the target itself (the link; the device and every
link at it) and those whose root cause is such an alarm: what the maintenance explains.
A fault elsewhere during the window is not expected and is raised as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from intentloop_intents import blastradius
from intentloop_intents.alarms import DesiredAlarm
from intentloop_intents.resources.maintenance import MaintenanceSpec, MaintenanceTargetKind
from intentloop_intents.topology import Topology

Phase = Literal["Scheduled", "Draining", "InProgress", "Completed"]
ACTIVE: frozenset[str] = frozenset({"Draining", "InProgress"})


@dataclass(frozen=True)
class Window:
    name: str
    spec: MaintenanceSpec

    def phase(self, now: datetime) -> Phase:
        if now >= self.spec.end:
            return "Completed"
        if now >= self.spec.start:
            return "InProgress"
        if now >= self.spec.start - timedelta(seconds=self.spec.drain_before_s):
            return "Draining"
        return "Scheduled"

    def links(self, topology: Topology) -> frozenset[str]:
        """The links out of service: the link, or every link at the device."""
        target = self.spec.target
        if target.kind == MaintenanceTargetKind.LINK:
            return frozenset({target.name})
        return frozenset(topology.incident(target.name))

    def devices(self) -> frozenset[str]:
        target = self.spec.target
        return frozenset({target.name} if target.kind == MaintenanceTargetKind.DEVICE else ())


def drained(windows: Iterable[Window], topology: Topology, now: datetime) -> dict[str, str]:
    """Links to keep services off now -> the window that wants it (first by name)."""
    found: dict[str, str] = {}
    for window in sorted(windows, key=lambda w: w.name):
        if window.phase(now) in ACTIVE:
            for link in sorted(window.links(topology)):
                found.setdefault(link, window.name)
    return found


def cannot_move(
    window: Window, topology: Topology, services: Sequence[blastradius.ServiceUse]
) -> list[blastradius.Impact]:
    """The services the window would hit that have no way round it within their SLA."""
    if (
        window.spec.target.kind == MaintenanceTargetKind.LINK
        and topology.link(window.spec.target.name) is None
    ):
        return []
    if (
        window.spec.target.kind == MaintenanceTargetKind.DEVICE
        and topology.device(window.spec.target.name) is None
    ):
        return []
    result = blastradius.blast_radius(
        topology, services, links=sorted(window.links(topology)), devices=sorted(window.devices())
    )
    return [i for i in result.impacts if i.sla_violated]


def mark_expected(
    alarms: Sequence[DesiredAlarm], windows: Iterable[Window], topology: Topology, now: datetime
) -> list[DesiredAlarm]:
    """`alarms` with those a window in progress explains marked with that window's name."""
    sources: dict[tuple[str, str], str] = {}
    for window in sorted(windows, key=lambda w: w.name, reverse=True):
        if window.phase(now) != "InProgress":
            continue
        for link in window.links(topology):
            sources[("Link", link)] = window.name
        for device in window.devices():
            sources[("Device", device)] = window.name
    if not sources:
        return list(alarms)
    by_ref: Mapping[tuple[str, str], DesiredAlarm] = {a.ref: a for a in alarms}
    marked = []
    for alarm in alarms:
        cause = sources.get((alarm.source[0], alarm.source[1]))
        root = by_ref.get(alarm.root_cause) if alarm.root_cause is not None else None
        if cause is None and root is not None:
            cause = sources.get((root.source[0], root.source[1]))
        marked.append(alarm if cause is None else replace(alarm, maintenance=cause))
    return marked
