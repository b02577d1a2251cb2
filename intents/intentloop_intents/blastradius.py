"""What if a link or a device went down? The services, tenants and SLAs it would hit.

Pure: it reads a topology (with the reservations services hold now) and where services
run, and answers without touching anything -- the question a NOC asks before a change or
during an incident ("what else is on that box?"), and what planned maintenance needs to
know before a window opens.

For every service whose working path crosses what fails, the answer says what would become
of it, by asking path computation the same question the re-path would ask, with the failed
links (and every link of a failed device) excluded:
- `protected`: its standby path avoids the failure; it switches over;
- `moves`: a route within its bandwidth and latency bound exists; the new latency is given;
- `degraded`: a route exists, but not within its latency bound (its SLA would be violated);
- `down`: no route at all, or one of its own endpoints is the failed device.
A service whose standby path alone crosses the failure keeps running, unprotected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from intentloop_intents import paths
from intentloop_intents.topology import Topology

Fate = Literal["protected", "moves", "degraded", "down", "unprotected"]
HARMED: frozenset[str] = frozenset({"degraded", "down"})


@dataclass(frozen=True)
class ServiceUse:
    """One service as it runs now."""

    namespace: str
    name: str
    endpoints: tuple[str, ...]  # devices
    path_links: tuple[str, ...]
    path_devices: tuple[str, ...]
    backup_links: tuple[str, ...] = ()
    bandwidth_mbps: float = 0.0
    bound_ms: float | None = None
    owner: str = ""  # whose reservation it holds (reusable by its own re-route)


@dataclass(frozen=True)
class Impact:
    namespace: str
    name: str
    fate: Fate
    detail: str
    latency_ms: float | None = None  # of the route it would take (moves, degraded)

    @property
    def sla_violated(self) -> bool:
        return self.fate in HARMED


@dataclass(frozen=True)
class BlastRadius:
    links: tuple[str, ...]  # failed, including every link of a failed device
    devices: tuple[str, ...]
    impacts: tuple[Impact, ...]

    @property
    def tenants(self) -> tuple[str, ...]:
        return tuple(sorted({i.namespace for i in self.impacts}))

    @property
    def slas_violated(self) -> tuple[Impact, ...]:
        return tuple(i for i in self.impacts if i.sla_violated)


class UnknownElement(ValueError):
    """A link or device the topology does not know."""


def blast_radius(
    topology: Topology,
    services: Iterable[ServiceUse],
    *,
    links: Sequence[str] = (),
    devices: Sequence[str] = (),
) -> BlastRadius:
    """What happens to `services` if `links` and `devices` go down (nothing is changed)."""
    for name in links:
        if topology.link(name) is None:
            raise UnknownElement(f"no link {name}")
    for name in devices:
        if topology.device(name) is None:
            raise UnknownElement(f"no device {name}")
    failed = set(links)
    for device in devices:
        failed |= set(topology.incident(device))
    impacts = []
    for service in sorted(services, key=lambda s: (s.namespace, s.name)):
        impact = _impact(topology, service, frozenset(failed), frozenset(devices))
        if impact is not None:
            impacts.append(impact)
    return BlastRadius(tuple(sorted(failed)), tuple(sorted(devices)), tuple(impacts))


def _impact(
    topology: Topology, service: ServiceUse, failed: frozenset[str], gone: frozenset[str]
) -> Impact | None:
    working_hit = bool(failed & set(service.path_links) or gone & set(service.path_devices))
    if not working_hit:
        if failed & set(service.backup_links):
            return _verdict(
                service, "unprotected", "its standby path crosses the failure; it keeps running"
            )
        return None
    lost = sorted(gone & set(service.endpoints))
    if lost:
        return _verdict(service, "down", f"its endpoint device {', '.join(lost)} is down")
    if service.backup_links and not failed & set(service.backup_links):
        return _verdict(service, "protected", "switches to its standby path")
    return _reroute(topology, service, failed)


def _verdict(service: ServiceUse, fate: Fate, detail: str, latency: float | None = None) -> Impact:
    return Impact(service.namespace, service.name, fate, detail, latency)


def _reroute(topology: Topology, service: ServiceUse, failed: frozenset[str]) -> Impact:
    request = paths.PathRequest(
        source=service.endpoints[0],
        target=service.endpoints[1] if len(service.endpoints) > 1 else service.endpoints[0],
        bandwidth_mbps=service.bandwidth_mbps,
        max_latency_ms=service.bound_ms,
        reuse_owners=(service.owner,) if service.owner else (),
        exclude_links=failed,
    )
    try:
        latency = _latency(topology, service, request)
        return _verdict(service, "moves", f"re-routed within its bound, {latency:.1f} ms", latency)
    except paths.NoFeasiblePath as e:
        if service.bound_ms is None:
            return _verdict(service, "down", f"no route: {e.infeasibility.message}")
    try:
        latency = _latency(topology, service, replace(request, max_latency_ms=None))
    except paths.NoFeasiblePath as e:
        return _verdict(service, "down", f"no route: {e.infeasibility.message}")
    return _verdict(
        service,
        "degraded",
        f"best route {latency:.1f} ms exceeds its {service.bound_ms:g} ms bound",
        latency,
    )


def _latency(topology: Topology, service: ServiceUse, request: paths.PathRequest) -> float:
    if len(service.endpoints) > 2:
        routes = paths.multipoint_routes(topology, service.endpoints, request)
        return max(r.latency_ms for r in routes)
    return paths.constrained_path(topology, request).latency_ms
