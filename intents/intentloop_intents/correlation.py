"""Root-cause correlation on the topology, behind `alarms.desired_alarms`.

Kept apart from `alarms` so that the public shapes stay short to read; this module works on
mutable drafts and `alarms` freezes them. The rules, in the order they are applied:

1. Devices: a `deviceUnreachable` fault, a declared device the topology shows unreachable,
   or a device with two or more links that are all down ("isolated": one link down is that
   link's fault, every link down at once is the box's) -- each is a root cause.
2. Links: a down link at an unreachable device is correlated to that device, otherwise it
   is a root cause of its own.
3. Services: a service whose working path crosses a fault gets a `serviceImpacted` alarm
   (critical; major when its protection path is intact); one whose protection path alone
   crosses a fault gets a warning (it runs, unprotected). Its root cause is the root of
   what it crosses -- a device before a link, then by key -- and every fault it crosses
   lists the service as affected.
4. SLA: a violated SLA is its own root cause unless a fault on the working path (or on a
   link the SLA evaluation blamed) explains it, then it is correlated to that fault's root.
5. Anything else (drift, failed transactions) is a root cause; services that cross the
   device, or are the source, are listed as affected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from intentloop_intents.topology import Topology

if TYPE_CHECKING:
    from intentloop_intents.alarms import Fault, ServiceView

AlarmRef = tuple[str, str]  # (namespace, key)
ServiceRef = tuple[str, str]  # (namespace, name)

LINK_DOWN = "linkDown"
DEVICE_UNREACHABLE = "deviceUnreachable"
SLA_VIOLATION = "slaViolation"
SERVICE_IMPACTED = "serviceImpacted"
CONFIGURATION_DRIFT = "configurationDrift"
TRANSACTION_FAILED = "transactionFailed"

# probable cause -> (X.733 alarm type, perceived severity, how a message says it)
_CAUSES: dict[str, tuple[str, str, str]] = {
    LINK_DOWN: ("communicationsAlarm", "major", "down"),
    DEVICE_UNREACHABLE: ("communicationsAlarm", "critical", "unreachable"),
    CONFIGURATION_DRIFT: ("processingErrorAlarm", "minor", "configuration drift"),
    TRANSACTION_FAILED: ("processingErrorAlarm", "major", "transaction failed"),
    SLA_VIOLATION: ("qualityOfServiceAlarm", "major", "SLA violated"),
    SERVICE_IMPACTED: ("qualityOfServiceAlarm", "critical", "impacted"),
}
_FAULT_CAUSE = {
    "linkDown": LINK_DOWN,
    "deviceUnreachable": DEVICE_UNREACHABLE,
    "drift": CONFIGURATION_DRIFT,
    "transactionFailed": TRANSACTION_FAILED,
}
_DEVICE_KINDS = ("Device", "DeviceConfig")
_SERVICE_KIND = "NetworkService"

_MAX_KEY = 63  # a DNS-1123 label: usable as an object name anywhere
_KEY_PREFIX = {
    "Link": "link",
    "Device": "device",
    "DeviceConfig": "deviceconfig",
    "NetworkService": "service",
    "NetworkSlice": "slice",
    "Transaction": "transaction",
}
_NOT_IN_LABEL = re.compile(r"[^a-z0-9-]")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def alarm_key(source_kind: str, source_name: str, probable_cause: str) -> str:
    """A stable DNS-1123 label for one (source, cause), e.g. `link-r1-r2-linkdown`.

    Readable when it can be; a name that had to be altered (upper case, dots, too long)
    gets a hash of the exact source appended, so two sources never share a key.
    """
    prefix = _KEY_PREFIX.get(source_kind) or _label(source_kind.lower())
    cause = _label(probable_cause.lower())
    wanted = f"{prefix}-{source_name}-{cause}"
    if _DNS_LABEL.fullmatch(wanted) and len(wanted) <= _MAX_KEY:
        return wanted
    identity = "\0".join((source_kind, source_name, probable_cause))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    room = _MAX_KEY - len(cause) - len(digest) - 2
    head = _label(f"{prefix}-{source_name}".lower()).strip("-")[:room].rstrip("-") or "alarm"
    return f"{head}-{cause}-{digest}"


def _label(text: str) -> str:
    return _NOT_IN_LABEL.sub("-", text)


@dataclass
class Draft:
    """An alarm being worked out; `root` None means it is a root cause."""

    key: str
    namespace: str
    cause: str
    problem: str
    source: tuple[str, str, str | None]
    severity: str = ""
    root: AlarmRef | None = None
    correlated: set[AlarmRef] = field(default_factory=set)
    affected: set[ServiceRef] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.severity = self.severity or _CAUSES[self.cause][1]

    @property
    def ref(self) -> AlarmRef:
        return (self.namespace, self.key)

    @property
    def alarm_type(self) -> str:
        return _CAUSES[self.cause][0]

    def says(self) -> str:
        """The fault in a few words, for other alarms' messages: `link r1-r2 (down)`."""
        kind, name, _ = self.source
        return f"{kind.lower()} {name} ({_CAUSES[self.cause][2]})"


def correlate(
    faults: Sequence[Fault],
    services: Sequence[ServiceView],
    topology: Topology,
    *,
    infra_namespace: str,
) -> list[Draft]:
    """Drafts of every alarm that should be active, with roots and correlations filled in."""
    work = _Correlation(topology, infra_namespace)
    work.add_infrastructure(faults)
    for service in sorted(services, key=lambda s: (s.namespace, s.name)):
        work.add_service(service)
    return work.linked()


class _Correlation:
    def __init__(self, topology: Topology, infra_namespace: str) -> None:
        self.topology = topology
        self.infra = infra_namespace
        self.drafts: dict[AlarmRef, Draft] = {}
        self.down_links: dict[str, Draft] = {}
        self.dead_devices: dict[str, Draft] = {}
        self.device_faults: dict[str, list[Draft]] = {}  # drift etc. about a device
        self.service_faults: dict[ServiceRef, list[Draft]] = {}

    # -- infrastructure -----------------------------------------------------------------

    def add_infrastructure(self, faults: Sequence[Fault]) -> None:
        links: dict[str, list[str]] = {}
        devices: dict[str, list[str]] = {}
        others: dict[tuple[str, str, str, str | None], list[str]] = {}
        for fault in faults:
            if fault.kind == "linkDown" and fault.source_kind == "Link":
                links.setdefault(fault.source_name, []).append(fault.detail)
            elif fault.kind == "deviceUnreachable" and fault.source_kind == "Device":
                devices.setdefault(fault.source_name, []).append(fault.detail)
            else:
                where = (fault.kind, fault.source_kind, fault.source_name, fault.source_namespace)
                others.setdefault(where, []).append(fault.detail)
        for link in self.topology.links():
            if not link.oper_up:
                links.setdefault(link.name, [])
        for device in self.topology.devices():
            if device.declared and not device.reachable:
                devices.setdefault(device.name, [])
        for name, details in sorted(devices.items()):
            self._device_down(name, f"device {name} unreachable{_detail(details)}")
        for name, problem in self._isolated(links):
            self._device_down(name, problem)
        for name, details in sorted(links.items()):
            self._link_down(name, details)
        for (kind, source_kind, name, namespace), details in sorted(
            others.items(), key=lambda item: (item[0][:3], item[0][3] or "")
        ):
            self._other(_FAULT_CAUSE[kind], source_kind, name, namespace, details)

    def _isolated(self, down: dict[str, list[str]]) -> list[tuple[str, str]]:
        found = []
        for device in self.topology.devices():
            if not device.declared or device.name in self.dead_devices:
                continue
            names = sorted(self.topology.incident(device.name))
            if len(names) >= 2 and all(name in down for name in names):
                listed = ", ".join(names)
                problem = f"device {device.name} isolated: all {len(names)} links down ({listed})"
                found.append((device.name, problem))
        return found

    def _device_down(self, name: str, problem: str) -> None:
        draft = self._add(DEVICE_UNREACHABLE, "Device", name, None, problem)
        self.dead_devices[name] = draft

    def _link_down(self, name: str, details: list[str]) -> None:
        state = self.topology.link(name)
        label = name if state is None else state.label()
        problem = f"link {label} down{_detail(details)}"
        draft = self._add(LINK_DOWN, "Link", name, None, problem)
        ends = () if state is None else sorted((state.a_device, state.b_device))
        for end in ends:
            device = self.dead_devices.get(end)
            if device is not None:
                draft.root = device.ref
                draft.problem += f"; explained by device {end} being unreachable"
                break
        self.down_links[name] = draft

    def _other(
        self, cause: str, kind: str, name: str, namespace: str | None, details: list[str]
    ) -> None:
        problem = f"{_CAUSES[cause][2]} on {kind} {name}{_detail(details)}"
        draft = self._add(cause, kind, name, namespace, problem)
        if kind in _DEVICE_KINDS:
            self.device_faults.setdefault(name, []).append(draft)
        elif kind == _SERVICE_KIND and namespace is not None:
            self.service_faults.setdefault((namespace, name), []).append(draft)

    def _add(
        self,
        cause: str,
        kind: str,
        name: str,
        namespace: str | None,
        problem: str,
        severity: str = "",
    ) -> Draft:
        draft = Draft(
            key=alarm_key(kind, name, cause),
            namespace=namespace or self.infra,
            cause=cause,
            problem=problem,
            source=(kind, name, namespace),
            severity=severity,
        )
        self.drafts[draft.ref] = draft
        return draft

    # -- services -----------------------------------------------------------------------

    def add_service(self, service: ServiceView) -> None:
        ref: ServiceRef = (service.namespace, service.name)
        working = self._crossed(service.path_links, service.path_devices)
        backup = self._crossed(service.backup_links, ())
        blamed = self._crossed(service.impacted_links, ())
        # A link's root device is an end of the link, so it is crossed too: no need to
        # walk up to roots here.
        for draft in (*working, *backup, *blamed):
            draft.affected.add(ref)
        for draft in self.service_faults.get(ref, []):
            draft.affected.add(ref)
        if self.device_faults:
            for device in self._devices_on(service.path_links, service.path_devices):
                for draft in self.device_faults.get(device, []):
                    draft.affected.add(ref)
        if working or backup:
            self._impacted(service, working, backup)
        if service.sla_violated:
            self._sla(service, [*working, *blamed])

    def _impacted(self, service: ServiceView, working: list[Draft], backup: list[Draft]) -> None:
        if working:
            protected = bool(service.backup_links) and not backup
            severity = "major" if protected else "critical"
            problem = f"path crosses {_listed(working)}"
            if protected:
                problem += "; protection path intact"
            root = self._pick(working)
        else:
            severity = "warning"
            problem = f"protection path crosses {_listed(backup)}: service unprotected"
            root = self._pick(backup)
        kind, name, namespace = _SERVICE_KIND, service.name, service.namespace
        draft = self._add(SERVICE_IMPACTED, kind, name, namespace, problem, severity=severity)
        draft.root = root.ref
        draft.affected.add((service.namespace, service.name))

    def _sla(self, service: ServiceView, explaining: list[Draft]) -> None:
        problem = service.sla_detail or "SLA not met"
        root = self._pick(explaining) if explaining else None
        if root is not None:
            problem += f"; likely cause: {root.says()}"
        kind, name, namespace = _SERVICE_KIND, service.name, service.namespace
        draft = self._add(SLA_VIOLATION, kind, name, namespace, problem)
        draft.root = None if root is None else root.ref
        draft.affected.add((service.namespace, service.name))

    def _crossed(self, links: Sequence[str], devices: Sequence[str]) -> list[Draft]:
        """Faults a route crosses, in path order: its down links, then its dead devices."""
        crossed = [self.down_links[name] for name in links if name in self.down_links]
        if self.dead_devices:  # the common case has none: skip walking the devices
            on_route = self._devices_on(links, devices)
            crossed += [self.dead_devices[name] for name in on_route if name in self.dead_devices]
        return crossed

    def _devices_on(self, links: Sequence[str], devices: Sequence[str]) -> list[str]:
        """The devices of a route: those listed, then the ends of its links, each once."""
        seen = dict.fromkeys(devices)
        for name in links:
            state = self.topology.link(name)
            if state is not None:
                seen.update(dict.fromkeys((state.a_device, state.b_device)))
        return list(seen)

    def _root_of(self, draft: Draft) -> Draft:
        return draft if draft.root is None else self.drafts[draft.root]

    def _pick(self, crossed: Iterable[Draft]) -> Draft:
        """The root cause to point at: a device explains more than a link; then by key."""
        roots = {self._root_of(draft).ref: self._root_of(draft) for draft in crossed}
        return min(
            roots.values(), key=lambda d: (d.cause != DEVICE_UNREACHABLE, d.namespace, d.key)
        )

    # -- result -------------------------------------------------------------------------

    def linked(self) -> list[Draft]:
        """All drafts, each root cause listing the alarms that point at it."""
        for draft in self.drafts.values():
            if draft.root is not None:
                self.drafts[draft.root].correlated.add(draft.ref)
        return list(self.drafts.values())


def _detail(details: Iterable[str]) -> str:
    text = "; ".join(sorted({d.strip() for d in details if d.strip()}))
    return f": {text}" if text else ""


def _listed(drafts: Sequence[Draft]) -> str:
    return ", ".join(dict.fromkeys(draft.says() for draft in drafts))
