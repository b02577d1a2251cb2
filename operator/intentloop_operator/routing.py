"""Choosing where an intent goes: routes, reservations, slice budgets (no Kubernetes I/O).

A service in a slice travels only on the slice's reserved links and spends the slice's
budget (it reserves nothing more on the links: the slice already did). A service outside
any slice reserves its bandwidth on its route (and, when protected, on its standby route).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentloop_intents import paths
from intentloop_intents.resources.services import NetworkServiceSpec, Protection
from intentloop_operator.runtime import Runtime, service_owner, slice_owner


class NotRoutable(Exception):
    """No route fits; `reason` is a condition reason, the message says what to change."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Routing:
    primary: paths.Path
    backup: paths.Path | None
    routes: tuple[paths.Path, ...]  # every route configured (l3vpn: a star)

    @property
    def links(self) -> tuple[str, ...]:
        found = {link for p in self.routes for link in p.links}
        if self.backup is not None:
            found |= set(self.backup.links)
        return tuple(sorted(found))


def _slice_request(
    rt: Runtime, namespace: str, spec: NetworkServiceSpec, owner: str
) -> tuple[tuple[str, ...], frozenset[str]]:
    """Owners whose capacity this service may use, and links it must avoid."""
    if spec.slice_ref is None:
        return (owner,), frozenset()
    key = service_owner(namespace, spec.slice_ref.name)
    sl = rt.slices.get(key)
    if sl is None or sl.get("status", {}).get("phase") != "Admitted":
        raise NotRoutable("SliceNotAdmitted", f"slice {spec.slice_ref.name} is not admitted")
    budget = int(sl["spec"]["guaranteedBandwidthMbps"])
    used = sum(bw for o, bw in rt.slice_members.get(key, {}).items() if o != owner)
    if used + spec.bandwidth_mbps > budget:
        raise NotRoutable(
            "SliceBudgetExceeded",
            f"slice {spec.slice_ref.name} guarantees {budget} Mbps; {used} Mbps are used by "
            f"other services, {spec.bandwidth_mbps} Mbps more does not fit",
        )
    reservation = rt.topology.reservation(slice_owner(namespace, spec.slice_ref.name))
    inside = reservation.links if reservation is not None else frozenset()
    outside = frozenset(link.name for link in rt.topology.links()) - inside
    return (owner, slice_owner(namespace, spec.slice_ref.name)), outside


def _check_customer_ports(rt: Runtime, spec: NetworkServiceSpec) -> None:
    """A customer port of the service must not be a Link's end (a core port): the Link is
    inventory, so this heals when the Link is moved or deleted."""
    for end in spec.endpoints:
        link = rt.topology.link_at(end.device, end.interface)
        if link is not None:
            raise NotRoutable(
                "PortConflict",
                f"{end.device}/{end.interface} is a customer port of this service but Link "
                f"{link.label()} uses it as a core port: move the service to another port "
                "or the Link off this one",
            )


def route(
    rt: Runtime,
    namespace: str,
    name: str,
    spec: NetworkServiceSpec,
    full: frozenset[str] = frozenset(),
) -> Routing:
    """The service's routes, never over the links in `full` (no free tag left on them).
    They keep off the links `rt.steer` names for it and the links maintenance drains
    (`rt.drained`) when they can: a link forecast to breach, or about to be serviced, is
    still better than no route at all."""
    steered = rt.steer.get(service_owner(namespace, name), frozenset()) | frozenset(rt.drained)
    if steered:
        try:
            return avoiding(rt, namespace, name, spec, steered | full)
        except NotRoutable:
            pass
    return avoiding(rt, namespace, name, spec, full)


def avoiding(
    rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec, links: frozenset[str]
) -> Routing:
    """The service's routes using none of `links` (raises NotRoutable when there is none)."""
    owner = service_owner(namespace, name)
    _check_customer_ports(rt, spec)
    reuse, avoid = _slice_request(rt, namespace, spec, owner)
    request = paths.PathRequest(
        source=spec.endpoints[0].device,
        target=spec.endpoints[1].device,
        bandwidth_mbps=float(spec.bandwidth_mbps),
        max_latency_ms=spec.sla.max_latency_ms,
        reuse_owners=reuse,
        exclude_links=avoid | links,
    )
    try:
        if spec.type == "l3vpn":
            devices = tuple(e.device for e in spec.endpoints)
            routes = paths.multipoint_routes(rt.topology, devices, request)
            return Routing(routes[0], None, routes)
        if spec.protection == Protection.DISJOINT:
            pair = paths.disjoint_pair(rt.topology, request)
            return Routing(pair.primary, pair.backup, (pair.primary,))
        primary = paths.constrained_path(rt.topology, request)
        return Routing(primary, None, (primary,))
    except paths.NoFeasiblePath as e:
        raise NotRoutable(str(e.infeasibility.constraint), e.infeasibility.message) from None


def blocked(rt: Runtime, owner: str, obj: dict[str, Any], links: frozenset[str]) -> str | None:
    """Why the service `obj` has no route avoiding `links` (None: it has one)."""
    namespace, name = owner.split("/", 1)
    try:
        avoiding(rt, namespace, name, NetworkServiceSpec.model_validate(obj["spec"]), links)
    except NotRoutable as e:
        return str(e)[:300]
    except ValueError as e:
        return f"invalid spec: {str(e)[:200]}"
    return None


def reserve(rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec, r: Routing) -> None:
    owner = service_owner(namespace, name)
    if spec.slice_ref is not None:
        key = service_owner(namespace, spec.slice_ref.name)
        rt.slice_members.setdefault(key, {})[owner] = spec.bandwidth_mbps
        return
    rt.topology.reserve(owner, r.links, float(spec.bandwidth_mbps))
    rt.touch_links(r.links)


def release(rt: Runtime, namespace: str, name: str) -> None:
    owner = service_owner(namespace, name)
    held = rt.topology.release(owner)
    if held is not None:
        rt.touch_links(held.links)
    for members in rt.slice_members.values():
        members.pop(owner, None)
