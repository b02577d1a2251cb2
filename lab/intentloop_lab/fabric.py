"""The lab's wires: namespaces, veth pairs, link rate and delay, ports up and down.

`build` lays a `LabPlan` into the kernel with one `ip -batch` for every namespace and veth
(created directly in their namespaces, `ip link add A netns X type veth peer name B netns
Y`), then raises and addresses each namespace's ports over rtnetlink (no process) and
gives each router one `tc` batch for its qdiscs. A
link's capacity is a `tbf` rate on both ends; its delay is `netem` when the kernel has it.
A kernel without `sch_netem` (this project's CI VM is one) cannot delay packets at all:
then the delay is *declared* — the probes add it to what they measure, and the lab log says
so once — rather than silently dropped.

The veths get an MTU of 1550 so that a service's 1500-byte frames fit once carried in the
50-byte VXLAN header a VLAN travels in (see `netplan`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import structlog

from intentloop_lab.kernel import CommandError, LinkDump, existing_namespaces, run_batch
from intentloop_lab.netplan import LabPlan, LinkPlan, PortPlan

log = structlog.get_logger(__name__)

UNDERLAY_MTU = 1550
_TBF_LATENCY = "100ms"


def netem_available(netns: str, device: str) -> bool:
    """Whether this kernel can delay packets (tried on a real interface, then undone)."""
    try:
        run_batch("tc", netns, [f"qdisc add dev {device} root netem delay 0ms"])
    except CommandError:
        return False
    run_batch("tc", netns, [f"qdisc del dev {device} root"], force=True)
    return True


def build(plan: LabPlan) -> None:
    """Create every namespace and wire of the lab; on failure nothing of it is left."""
    lines = [f"netns add {name}" for name in plan.namespaces()]
    for link in plan.links:
        lines.append(_veth(link.a, link.b))
    for site in plan.sites:
        lines.append(_veth(site.router_end, site.site_end))
    try:
        run_batch("ip", None, lines)
        for netns, ports in _ports_by_netns(plan).items():
            dump = LinkDump(netns)
            try:
                dump.configure([(p.kernel, p.model, p.address) for p in ports])
            finally:
                dump.close()
    except (CommandError, OSError):
        remove_namespaces(plan.prefix)
        raise


def _veth(one: PortPlan, other: PortPlan) -> str:
    return (
        f"link add {one.kernel} netns {one.netns} mtu {UNDERLAY_MTU} type veth "
        f"peer name {other.kernel} netns {other.netns} mtu {UNDERLAY_MTU}"
    )


def _ports_by_netns(plan: LabPlan) -> dict[str, list[PortPlan]]:
    ports: dict[str, list[PortPlan]] = {name: [] for name in plan.namespaces()}
    for link in plan.links:
        ports[link.a.netns].append(link.a)
        ports[link.b.netns].append(link.b)
    for site in plan.sites:
        ports[site.router_end.netns].append(site.router_end)
        ports[site.site_end.netns].append(site.site_end)
    return ports


def shape_links(plan: LabPlan, delays_ms: dict[str, float], *, netem: bool) -> None:
    """Rate (and, with netem, delay) on both ends of every link: one `tc` batch per router."""
    per_netns: dict[str, list[str]] = {}
    for link in plan.links:
        for end in (link.a, link.b):
            line = link_qdisc(end, link, delays_ms.get(link.name, link.latency_ms), netem=netem)
            per_netns.setdefault(end.netns, []).append(line)
    with ThreadPoolExecutor(max_workers=4) as pool:  # one process each: overlap the spawns
        list(pool.map(lambda item: run_batch("tc", item[0], item[1]), per_netns.items()))


def link_qdisc(end: PortPlan, link: LinkPlan, delay_ms: float, *, netem: bool) -> str:
    """The `tc` line that gives one end of a link its rate (and delay)."""
    if netem:
        return (
            f"qdisc replace dev {end.kernel} root netem delay {delay_ms:g}ms "
            f"rate {link.capacity_mbps}mbit limit 100000"
        )
    burst = max(link.capacity_mbps * 125_000 // 250, 64 * 1024)  # one 4 ms tick at rate
    return (
        f"qdisc replace dev {end.kernel} root tbf rate {link.capacity_mbps}mbit "
        f"burst {burst} latency {_TBF_LATENCY}"
    )


def set_delay(link: LinkPlan, delay_ms: float, *, netem: bool) -> None:
    """Change a link's delay on both ends (a no-op on the wire without netem)."""
    if not netem:
        return
    for end in (link.a, link.b):
        run_batch("tc", end.netns, [link_qdisc(end, link, delay_ms, netem=True)])


def set_ports(netns: str, ports: dict[str, bool]) -> None:
    """Raise or lower interfaces of one namespace (kernel names), in one batch."""
    lines = [f"link set dev {name} {'up' if up else 'down'}" for name, up in sorted(ports.items())]
    run_batch("ip", netns, lines)


def remove_namespaces(prefix: str) -> int:
    """Delete every namespace whose name starts with `prefix` (their veths go with them)."""
    names = existing_namespaces(prefix)
    if names:
        run_batch("ip", None, [f"netns del {name}" for name in names], force=True)
    if names:
        log.info("lab.netns.removed", count=len(names), prefix=prefix)
    return len(names)
