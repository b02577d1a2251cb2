"""How an L3VPN routes: addresses on its sub-interfaces and each device's routes.

VRF-lite with static routes, computed from the routes the service was given:
- a customer sub-interface carries the endpoint's address (the site's gateway); its subnet
  is the site's, connected on that device;
- every core link the service crosses is a point-to-point /31 inside the VRF, numbered from
  `TRANSIT` in the order of the links' ends (a per-service space: VRFs keep services apart,
  so every service may use the same transit addresses);
- every other device of the service routes each site's subnet to its neighbour towards that
  site along a shortest-path tree over the service's links (one tree per site, so a packet
  never loops, whatever shape the union of the routes has).

Pure functions; `compilation.compile_l3vpn` turns the result into device contributions.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from intentloop_intents.device.model import StaticRoute
from intentloop_intents.paths import Hop

TRANSIT = ipaddress.IPv4Network("169.254.0.0/16")
MAX_LINKS = TRANSIT.num_addresses // 2

Port = tuple[str, str]  # (device, interface)


class AddressedEndpoint(Protocol):
    @property
    def device(self) -> str: ...
    @property
    def interface(self) -> str: ...
    @property
    def address(self) -> str | None: ...


@dataclass(frozen=True)
class L3Plan:
    addresses: dict[Port, str] = field(default_factory=dict)  # port -> "a.b.c.d/len"
    routes: dict[str, tuple[StaticRoute, ...]] = field(default_factory=dict)  # device -> routes


def site_subnets(endpoints: Sequence[AddressedEndpoint]) -> list[ipaddress.IPv4Network]:
    """Each endpoint's subnet; ValueError naming the endpoints whose subnets overlap or the
    one that gives no address."""
    subnets: list[ipaddress.IPv4Network] = []
    for index, end in enumerate(endpoints):
        if end.address is None:
            raise ValueError(f"endpoints[{index}] ({end.device} {end.interface}): no address")
        subnet = ipaddress.IPv4Interface(end.address).network
        if subnet.overlaps(TRANSIT):
            raise ValueError(
                f"endpoints[{index}].address {end.address}: inside {TRANSIT}, "
                "which the VPN's core links use"
            )
        for other, seen in enumerate(subnets):
            if subnet.overlaps(seen):
                raise ValueError(
                    f"endpoints[{index}].address {end.address} overlaps "
                    f"endpoints[{other}].address {endpoints[other].address}: "
                    "every site of a VPN has its own subnet"
                )
        subnets.append(subnet)
    return subnets


def _edges(routes: Sequence[Sequence[Hop]]) -> list[tuple[Port, Port]]:
    """The service's core links as pairs of ports, each once, in a stable order."""
    found: set[tuple[Port, Port]] = set()
    for route in routes:
        for here, there in itertools.pairwise(route):
            if here.out_interface is None or there.in_interface is None:
                raise ValueError(f"route {here.device} → {there.device}: core ports missing")
            a: Port = (here.device, here.out_interface)
            b: Port = (there.device, there.in_interface)
            found.add((a, b) if a < b else (b, a))
    return sorted(found)


def plan(endpoints: Sequence[AddressedEndpoint], routes: Sequence[Sequence[Hop]]) -> L3Plan:
    """Addresses of every port of the service and every device's static routes."""
    subnets = site_subnets(endpoints)
    edges = _edges(routes)
    if len(edges) > MAX_LINKS:
        raise ValueError(f"{len(edges)} core links: more than the {MAX_LINKS} a VPN numbers")
    addresses: dict[Port, str] = {
        (e.device, e.interface): str(ipaddress.IPv4Interface(e.address))
        for e in endpoints
        if e.address is not None
    }
    neighbours: dict[str, list[tuple[str, str]]] = {}  # device -> [(neighbour, its address)]
    for index, (a, b) in enumerate(edges):
        low = TRANSIT.network_address + 2 * index
        addresses[a] = f"{low}/31"
        addresses[b] = f"{low + 1}/31"
        neighbours.setdefault(a[0], []).append((b[0], str(low + 1)))
        neighbours.setdefault(b[0], []).append((a[0], str(low)))
    devices = sorted({d for route in routes for d in (h.device for h in route)})
    devices = sorted({*devices, *(e.device for e in endpoints)})
    table: dict[str, list[StaticRoute]] = {d: [] for d in devices}
    for end, subnet in zip(endpoints, subnets, strict=True):
        for device, next_hop in _towards(end.device, neighbours).items():
            table[device].append(StaticRoute(prefix=str(subnet), next_hop=next_hop))
    return L3Plan(addresses, {d: tuple(table[d]) for d in devices})


def _towards(site: str, neighbours: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """For every device reachable from `site`'s device: the next hop towards it (BFS tree;
    neighbours in their stable order, so the tree is the same on every compile)."""
    next_hop: dict[str, str] = {}
    seen = {site}
    queue = deque([site])
    while queue:
        here = queue.popleft()
        for there, _ in neighbours.get(here, []):
            if there in seen:
                continue
            seen.add(there)
            # `there` sends towards `site` through `here`: here's address on their link
            next_hop[there] = next(a for n, a in neighbours[there] if n == here)
            queue.append(there)
    return next_hop
