"""Where every part of a lab lives in the kernel: namespace names, interface names, addresses.

Pure data, computed once from the topology and a short lab id, so the daemon that builds
the fabric, the agent that configures it, `lab down` that removes it and the traffic tools
that use it all agree without asking each other.

- Namespaces: `il-<labid>-<router>` per router and `il-<labid>-<router>.<port>` per
  customer site. Router names cannot hold a dot, so no router's namespace can be mistaken
  for another router's site; every namespace of one lab starts with `il-<labid>-`, which is
  how a crashed lab is cleaned up (see `fabric.remove_namespaces`).
- Interface names: the model's name (`core-<peer>`, `eth1`) when Linux accepts it (at most
  15 bytes, no `/`, `:` or spaces), else `if<index>`; the model name is kept as the
  interface's alias so `ip link` still shows it.
- Underlay addresses: each link and each site port is a /31 in 100.64.0.0/16 (links in
  100.64.0-63.x, sites in 100.64.64-127.x; RFC 6598 space, the lab's "wires"), used by the
  latency probes and by the VXLAN headers that carry the VLANs of that one port. Not
  169.254/16: that is what the controller numbers an L3VPN's core links from, and the
  lab's VRFs (routing tables, without VRF devices) share one local table with the wires.
- Attachments: a number per link (1..2047) and per site port (2048..4095); a VLAN v on
  that port travels as VNI `attachment * 4096 + v`, unique per port like a tag is.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from intentloop_lab.topology import Topology

NETNS_PREFIX = "il-"
SITE_INTERFACE = "port0"
IFNAMSIZ = 15
VNI_PER_ATTACHMENT = 4096
SITE_ATTACHMENT_BASE = 2048
MAX_ATTACHMENTS = 4095
_KERNEL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")
_RESERVED = {"lo", "all", "default"}


def new_lab_id() -> str:
    """Six hex digits: short enough for names, random enough for labs running side by side."""
    return secrets.token_hex(3)


def netns_prefix(lab_id: str) -> str:
    return f"{NETNS_PREFIX}{lab_id}-"


def router_netns(lab_id: str, router: str) -> str:
    return f"{netns_prefix(lab_id)}{router}"


def site_netns(lab_id: str, router: str, port: str) -> str:
    return f"{router_netns(lab_id, router)}.{port.replace('/', '_')}"


def kernel_name(model_name: str, index: int, taken: set[str]) -> str:
    """The Linux name of a model interface: itself if Linux takes it, else `if<index>`."""
    if _KERNEL_NAME.match(model_name) and model_name not in _RESERVED | taken:
        return model_name
    return f"if{index}"


def subinterface_name(parent_kernel: str, attachment: int, vlan: int) -> str:
    """The device of VLAN `vlan` on a port: `<parent>.<vlan>` when short enough."""
    name = f"{parent_kernel}.{vlan}"
    return name if len(name) <= IFNAMSIZ else f"a{attachment}.{vlan}"


UNDERLAY_PREFIX = "100.64"


def vni(attachment: int, vlan: int) -> int:
    return attachment * VNI_PER_ATTACHMENT + vlan


def _address(block: int, index: int, end: int) -> str:
    """The `end` (0 or 1) address of /31 number `index` in 100.64.`block`.0/18."""
    third = block + index // 128
    return f"{UNDERLAY_PREFIX}.{third}.{(index % 128) * 2 + end}"


@dataclass(frozen=True)
class PortPlan:
    """One end of a wire inside one namespace."""

    netns: str
    model: str  # the name the router config uses (`core-r2`, `eth1`); site side: port0
    kernel: str
    address: str
    peer_address: str
    attachment: int


@dataclass(frozen=True)
class LinkPlan:
    name: str
    a_router: str
    b_router: str
    a: PortPlan
    b: PortPlan
    capacity_mbps: int
    latency_ms: float


@dataclass(frozen=True)
class SitePlan:
    router: str
    port: str
    router_end: PortPlan
    site_end: PortPlan


@dataclass(frozen=True)
class LabPlan:
    lab_id: str
    routers: dict[str, str]  # router -> netns
    links: tuple[LinkPlan, ...]
    sites: tuple[SitePlan, ...]

    @property
    def prefix(self) -> str:
        return netns_prefix(self.lab_id)

    def namespaces(self) -> list[str]:
        return [*self.routers.values(), *(s.site_end.netns for s in self.sites)]

    def ports_of(self, router: str) -> dict[str, PortPlan]:
        """Every port of a router in its namespace, by model name."""
        ports = {s.port: s.router_end for s in self.sites if s.router == router}
        for link in self.links:
            if link.a_router == router:
                ports[link.a.model] = link.a
            if link.b_router == router:
                ports[link.b.model] = link.b
        return ports

    def link(self, name: str) -> LinkPlan:
        return next(link for link in self.links if link.name == name)


def plan_lab(topology: Topology, lab_id: str) -> LabPlan:
    """Lay the topology out in the kernel (see the module docstring)."""
    site_count = sum(len(r.ports) for r in topology.routers)
    if len(topology.links) >= SITE_ATTACHMENT_BASE or site_count > MAX_ATTACHMENTS - 2047:
        raise ValueError("the lab's data plane holds at most 2047 links and 2048 customer ports")
    routers = {r.name: router_netns(lab_id, r.name) for r in topology.routers}
    names: dict[str, set[str]] = {r.name: set() for r in topology.routers}

    def end(router: str, model: str, address: str, peer: str, attachment: int) -> PortPlan:
        taken = names[router]
        kernel = kernel_name(model, len(taken), taken)
        taken.add(kernel)
        return PortPlan(routers[router], model, kernel, address, peer, attachment)

    sites: list[SitePlan] = []
    for router in topology.routers:
        for port in router.ports:
            index = len(sites)
            attachment = SITE_ATTACHMENT_BASE + index
            ours, theirs = _address(64, index, 0), _address(64, index, 1)
            netns = site_netns(lab_id, router.name, port)
            site = PortPlan(netns, SITE_INTERFACE, SITE_INTERFACE, theirs, ours, attachment)
            sites.append(
                SitePlan(router.name, port, end(router.name, port, ours, theirs, attachment), site)
            )
    links: list[LinkPlan] = []
    for index, link in enumerate(topology.links):
        a_addr, b_addr = _address(0, index, 0), _address(0, index, 1)
        links.append(
            LinkPlan(
                name=link.name,
                a_router=link.a,
                b_router=link.b,
                a=end(link.a, link.a_interface, a_addr, b_addr, index + 1),
                b=end(link.b, link.b_interface, b_addr, a_addr, index + 1),
                capacity_mbps=link.capacity_mbps,
                latency_ms=link.latency_ms,
            )
        )
    netns_names = [*routers.values(), *(s.site_end.netns for s in sites)]
    if len(set(netns_names)) != len(netns_names):
        raise ValueError("two customer ports map to one site namespace ('/' becomes '_')")
    return LabPlan(lab_id, routers, tuple(links), tuple(sites))
