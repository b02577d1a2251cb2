"""The device agent: what a router is configured with becomes what its kernel forwards.

Given the router's running `DeviceConfigTree`, `DeviceAgent.apply` computes the kernel
objects it means (`KernelConfig`) and changes only the difference, in one `ip -batch` (and
one `tc -batch` when a policer changed):

- a `SubInterface` is a device on its parent port that carries exactly that VLAN of that
  port. This lab's kernel may lack 802.1Q, so the VLAN travels in a VXLAN header scoped to
  the port (VNI = port attachment * 4096 + VLAN id, underlay = the port's /31; see
  `netplan`) — on the wire as specific as a tag, and like a tag it reaches the far end only
  if the far end has the same sub-interface;
- an L2 cross-connect: sub-interfaces of one router naming the same `l2_instance` are
  bridged together whatever their tags (so each link may carry its own tag: the bridge
  translates), in a bridge with a short indexed name (`l2x<n>`: Linux names have 15
  characters); sub-interfaces in neither a VRF nor an L2 instance that share a VLAN id
  are bridged in `br<vlan>` (`cross_connect_of`, the one place that decides it);
- a policer is a token bucket on what enters each sub-interface that references it: the
  sub-interface's ingress is redirected (`u32` + `mirred`) through an IFB device whose
  `tbf` has the policer's rate and burst and room for only two packets, so what exceeds
  the bucket is dropped, not queued. (`act_police` would be the one-line form; the kernel
  this lab runs on lacks it, and nftables' `limit` keeps a whole second of tokens.)
- a VRF is a routing table (`ip rule iif <sub-interface> lookup <table>`; kernels without
  `CONFIG_NET_VRF` have no VRF device): its sub-interfaces' addresses (`noprefixroute`, so
  the main table never learns a customer's subnet), their connected subnets and the VRF's
  static routes go in that table, which ends in `unreachable default` (nothing falls
  through to another table); only a VRF's sub-interfaces forward (IPv4 forwarding is per
  receiving interface), so no port outside a VRF routes anything;
- `enabled: false` on a port sets it down (so does a lab fault, through `force_down`).

A change the kernel refuses raises `CommandError` after the kernel was put back as it was,
so a gNMI Set can fail like a router's commit.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from intentloop_intents.device.model import DeviceConfigTree, SubInterface
from intentloop_lab import netplan
from intentloop_lab.kernel import CommandError, enable_forwarding, run_batch
from intentloop_lab.netplan import PortPlan

log = structlog.get_logger(__name__)

VXLAN_PORT = 4789
VRF_TABLE_BASE = 1000
_TBF_LIMIT_BYTES = 2 * 1550  # two frames: a policer drops, it does not queue


@dataclass(frozen=True)
class KernelSub:
    device: str
    parent: str
    vni: int
    local: str
    remote: str
    bridge: str | None
    table: int | None
    address: str | None = None  # "a.b.c.d/len", routed (in a VRF)


@dataclass(frozen=True, order=True)
class KernelRoute:
    """A route in a VRF's table: a connected subnet (`dev`), a static route (`via`, `dev`
    when a sub-interface of the VRF holds the next hop), or the table's `unreachable`."""

    table: int
    prefix: str  # "default" for the unreachable end of the table
    via: str | None = None
    dev: str | None = None

    def line(self, verb: str) -> str:
        if self.prefix == "default":
            return f"route {verb} unreachable default table {self.table}"
        via = f" via {self.via}" if self.via else ""
        dev = f" dev {self.dev}" if self.dev else ""
        return f"route {verb} {self.prefix}{via}{dev} table {self.table}"


@dataclass(frozen=True)
class KernelConfig:
    ports_up: Mapping[str, bool] = field(default_factory=dict)
    subs: Mapping[str, KernelSub] = field(default_factory=dict)
    policers: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # device -> Mbps, kB
    routes: frozenset[KernelRoute] = frozenset()

    @property
    def bridges(self) -> set[str]:
        return {s.bridge for s in self.subs.values() if s.bridge is not None}


def cross_connect_of(sub: SubInterface, bridges: dict[str, str]) -> str | None:
    """The bridge an L2 sub-interface joins: its `l2_instance` (named `l2x<n>` in the order
    instances were first seen, kept in `bridges`), else its VLAN id; None in a VRF."""
    if sub.vrf is not None:
        return None
    if sub.l2_instance is None:
        return f"br{sub.vlan_id}"
    return bridges.setdefault(sub.l2_instance, f"l2x{len(bridges)}")


class DeviceAgent:
    """Keeps one router namespace's kernel equal to its running configuration."""

    def __init__(self, netns: str, ports: Mapping[str, PortPlan]) -> None:
        self.netns = netns
        self.ports = dict(ports)  # model name -> where it is
        self._tree = DeviceConfigTree()
        self._down: frozenset[str] = frozenset()  # model ports a fault holds down
        self._applied = KernelConfig(ports_up=dict.fromkeys(self._kernel_ports(), True))
        self._tables: dict[str, int] = {}
        self._bridges: dict[str, str] = {}  # L2 instance -> bridge device, never reused
        self._lock = threading.Lock()

    def _kernel_ports(self) -> list[str]:
        return [p.kernel for p in self.ports.values()]

    @property
    def tree(self) -> DeviceConfigTree:
        return self._tree

    def apply(self, tree: DeviceConfigTree) -> bool:
        """Make the kernel forward what `tree` says; False when nothing changed."""
        with self._lock:
            return self._reconcile(tree, self._down)

    def force_down(self, ports: frozenset[str]) -> bool:
        """Hold these model ports down whatever the config says (link faults, power off)."""
        with self._lock:
            return self._reconcile(self._tree, ports)

    def _reconcile(self, tree: DeviceConfigTree, down: frozenset[str]) -> bool:
        desired = self.kernel_config(tree, down)
        if desired == self._applied:
            self._tree, self._down = tree, down
            return False
        try:
            self._change(self._applied, desired, force=False)
        except CommandError:
            self._change(desired, self._applied, force=True)  # back to what was running
            raise
        self._applied, self._tree, self._down = desired, tree, down
        return True

    def kernel_config(self, tree: DeviceConfigTree, down: frozenset[str]) -> KernelConfig:
        enabled = {i.name: i.enabled for i in tree.interfaces}
        ports_up = {
            port.kernel: enabled.get(model, True) and model not in down
            for model, port in self.ports.items()
        }
        rates = {p.name: (p.rate_mbps, p.burst_kbytes) for p in tree.policers}
        subs: dict[str, KernelSub] = {}
        policers: dict[str, tuple[int, int]] = {}
        for sub in tree.subinterfaces:
            kernel = self._kernel_sub(sub)
            subs[kernel.device] = kernel
            if sub.policer is not None:
                policers[kernel.device] = rates[sub.policer]
        return KernelConfig(ports_up, subs, policers, self._routes(tree, subs))

    def _routes(
        self, tree: DeviceConfigTree, subs: Mapping[str, KernelSub]
    ) -> frozenset[KernelRoute]:
        """Every VRF table's routes: connected subnets, static routes, the unreachable end."""
        routes: set[KernelRoute] = set()
        connected: dict[int, list[tuple[ipaddress.IPv4Network, str]]] = {}
        for sub in subs.values():
            if sub.table is None:
                continue
            routes.add(KernelRoute(sub.table, "default"))
            if sub.address is not None:
                subnet = ipaddress.IPv4Interface(sub.address).network
                connected.setdefault(sub.table, []).append((subnet, sub.device))
                routes.add(KernelRoute(sub.table, str(subnet), dev=sub.device))
        for vrf in tree.vrfs:
            table = self._tables.get(vrf.name)
            if table is None:  # a VRF no sub-interface is in routes nothing
                continue
            for route in vrf.static_routes:
                hop = ipaddress.IPv4Address(route.next_hop)
                dev = next((d for net, d in connected.get(table, []) if hop in net), None)
                routes.add(KernelRoute(table, route.prefix, route.next_hop, dev))
        return frozenset(routes)

    def _kernel_sub(self, sub: SubInterface) -> KernelSub:
        port = self.ports.get(sub.parent)
        table = None
        if sub.vrf is not None:
            table = self._tables.setdefault(sub.vrf, VRF_TABLE_BASE + len(self._tables))
        if port is None:  # not a port of this router: the kernel will say so
            return KernelSub(
                sub.name, sub.parent, sub.vlan_id, "0.0.0.0", "0.0.0.0", None, table, sub.ipv4
            )
        return KernelSub(
            device=netplan.subinterface_name(port.kernel, port.attachment, sub.vlan_id),
            parent=port.kernel,
            vni=netplan.vni(port.attachment, sub.vlan_id),
            local=port.address,
            remote=port.peer_address,
            bridge=cross_connect_of(sub, self._bridges),
            table=table,
            address=sub.ipv4,
        )

    def _change(self, before: KernelConfig, after: KernelConfig, *, force: bool) -> None:
        lines = _link_lines(before, after)
        run_batch("ip", self.netns, lines, force=force)
        routed = [
            d for d, s in after.subs.items() if s.table is not None and before.subs.get(d) != s
        ]
        try:
            enable_forwarding(self.netns, routed)
        except CommandError:
            if not force:
                raise
        ifbs, tc = _police_lines(before, after)
        run_batch("ip", self.netns, ifbs, force=force)
        run_batch("tc", self.netns, tc, force=force)
        if lines:
            log.info("lab.agent.applied", netns=self.netns, commands=len(lines), rollback=force)


def _link_lines(before: KernelConfig, after: KernelConfig) -> list[str]:
    lines: list[str] = []
    gone = [s for d, s in before.subs.items() if after.subs.get(d) != s]
    new = [s for d, s in after.subs.items() if before.subs.get(d) != s]
    replaced = {s.device for s in gone}  # their routes go with them, and come back below
    lines += _route_lines(before, after, replaced, "del")
    for sub in gone:
        lines.append(f"link del dev {sub.device}")
        if sub.table is not None:
            lines.append(f"rule del iif {sub.device} lookup {sub.table}")
    lines += [f"link del dev {b}" for b in sorted(before.bridges - after.bridges)]
    for bridge in sorted(after.bridges - before.bridges):
        lines += [f"link add {bridge} type bridge", f"link set dev {bridge} up"]
    for sub in new:
        lines.append(
            f"link add {sub.device} type vxlan id {sub.vni} local {sub.local} "
            f"remote {sub.remote} dev {sub.parent} dstport {VXLAN_PORT} nolearning"
        )
        if sub.bridge is not None:
            lines.append(f"link set dev {sub.device} master {sub.bridge}")
        if sub.table is not None:
            lines.append(f"rule add iif {sub.device} lookup {sub.table}")
        if sub.address is not None:
            lines.append(f"addr add {sub.address} dev {sub.device} noprefixroute")
        lines.append(f"link set dev {sub.device} up")
    for port, up in sorted(after.ports_up.items()):
        if before.ports_up.get(port) != up:
            lines.append(f"link set dev {port} {'up' if up else 'down'}")
    lines += _route_lines(before, after, replaced, "add")
    return lines


def _route_lines(
    before: KernelConfig, after: KernelConfig, replaced: set[str], verb: str
) -> list[str]:
    """`del`: the routes to remove first, while their devices are still there (the routes of
    a device that is replaced go with it); `add`: what to add last, connected subnets before
    the static routes that resolve through them."""

    def standing(route: KernelRoute) -> bool:
        return route.dev is None or route.dev not in replaced

    if verb == "del":
        return [r.line("del") for r in sorted(before.routes - after.routes) if standing(r)]
    adding = [r for r in after.routes if r not in before.routes or not standing(r)]
    return [r.line("add") for r in sorted(adding, key=lambda r: (r.via is not None, r))]


def ifb_name(sub: KernelSub) -> str:
    """The IFB device that polices a sub-interface (its VNI is unique on the router)."""
    return f"pl{sub.vni}"


def tbf_line(device: str, mbps: int, kbytes: int, *, verb: str = "add") -> str:
    return (
        f"qdisc {verb} dev {device} root tbf rate {mbps}mbit burst {kbytes * 1000} "
        f"limit {_TBF_LIMIT_BYTES}"
    )


def _police_lines(before: KernelConfig, after: KernelConfig) -> tuple[list[str], list[str]]:
    """(ip lines, tc lines) that take the policers from `before` to `after`."""
    ip: list[str] = []
    tc: list[str] = []
    for device in before.policers:
        sub = before.subs[device]
        if device in after.policers and after.subs.get(device) == sub:
            continue
        ip.append(f"link del dev {ifb_name(sub)}")
        if after.subs.get(device) == sub:  # the sub-interface stays, unpoliced
            tc.append(f"qdisc del dev {device} ingress")
    for device, (mbps, kbytes) in after.policers.items():
        sub = after.subs[device]
        ifb = ifb_name(sub)
        if device in before.policers and before.subs.get(device) == sub:
            if before.policers[device] != (mbps, kbytes):
                tc.append(tbf_line(ifb, mbps, kbytes, verb="replace"))
            continue
        ip += [f"link add {ifb} type ifb", f"link set dev {ifb} up"]
        tc += [
            f"qdisc add dev {device} handle ffff: ingress",
            f"filter add dev {device} parent ffff: protocol all u32 match u32 0 0 "
            f"action mirred egress redirect dev {ifb}",
            tbf_line(ifb, mbps, kbytes),
        ]
    return ip, tc
