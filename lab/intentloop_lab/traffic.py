"""Traffic between customer sites: the proof that a service carries packets.

A *site* is a customer host behind a router's customer port: a network namespace and the
interface in it that faces the port (`labstate.SiteInfo`, published in `lab.json`). A
service reaches a site on a VLAN (an interface made the way the lab carries VLANs, see
`intentloop_lab.sites`) or untagged, on the port's own interface. `attach()` gives both
ends of a service a test address — one /30 per service pair, from 198.18.0.0/15 (the
RFC 2544 benchmarking range, so it can never collide with anything real) — and
removes exactly what it added when it is done.

The measurements are bounded in packets and in time and always end:
- `ping()`: reachability, loss %;
- `rate()` (in `traffic_iperf`): UDP at a set rate with iperf3 → delivered Mbps, loss;
- `GapStream` (in `traffic_gap`): a sequence-numbered UDP stream → the longest gap.
Every command runs inside the lab's own namespaces (`ip netns exec`); nothing here sends a
packet on the host's network.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from intentloop_lab import sites
from intentloop_lab.labstate import SiteInfo

TEST_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
PAIRS = TEST_RANGE.num_addresses // 4  # one /30 each
MAX_IFNAME = 15


class TrafficError(RuntimeError):
    """A site could not be configured, or a measurement tool failed (not: packets lost)."""


def label(site: SiteInfo) -> str:
    return f"{site.device}/{site.port}"


@dataclass(frozen=True)
class Attachment:
    """A site as one service sees it: its VLAN there (None: untagged, the whole port)."""

    site: SiteInfo
    vlan: int | None = None

    def __post_init__(self) -> None:
        if self.vlan is not None and not 1 <= self.vlan <= 4094:
            raise ValueError(f"vlan: {self.vlan} is not a VLAN ID (1-4094)")

    @property
    def ifname(self) -> str:
        """The interface carrying this attachment inside the site's namespace."""
        if self.vlan is None:
            return self.site.interface
        name = sites.vlan_interface_name(self.site, self.vlan)
        return name if len(name) <= MAX_IFNAME else f"ilv{self.vlan}"

    def __str__(self) -> str:
        return label(self.site) + (f" vlan {self.vlan}" if self.vlan else " untagged")


@dataclass(frozen=True)
class Endpoint:
    """A configured attachment: where to send from and the address it answers on."""

    attachment: Attachment
    address: ipaddress.IPv4Interface

    @property
    def netns(self) -> str:
        return self.attachment.site.netns

    @property
    def ifname(self) -> str:
        return self.attachment.ifname

    @property
    def ip(self) -> str:
        return str(self.address.ip)


def pair_subnet(index: int) -> ipaddress.IPv4Network:
    """The /30 of service pair `index` (0 ≤ index < 32,768): deterministic, never shared."""
    if not 0 <= index < PAIRS:
        raise ValueError(f"pair index {index} outside 0..{PAIRS - 1}")
    base = int(TEST_RANGE.network_address) + 4 * index
    return ipaddress.IPv4Network((base, 30))


def pair_index(a: Attachment, b: Attachment) -> int:
    """The pair's /30 follows its VLAN: one VLAN is one service at a port, so two services
    meeting in one site never share a subnet; untagged pairs use index 0."""
    return a.vlan or b.vlan or 0


def run(
    argv: Sequence[str], *, timeout: float, check: bool = True, stdin: str | None = None
) -> str:
    """Run a command, bounded in time; a failure is a TrafficError saying what failed."""
    try:
        out = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise TrafficError(f"`{' '.join(argv)}` did not finish in {timeout:g}s") from exc
    except FileNotFoundError as exc:
        raise TrafficError(f"{argv[0]} is not installed") from exc
    if check and out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"exit code {out.returncode}"
        raise TrafficError(f"`{' '.join(argv)}` failed: {reason}")
    return out.stdout


def in_netns(netns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def _ip(netns: str, *args: str, check: bool = True) -> str:
    return run(["ip", "-n", netns, *args], timeout=10, check=check)


def _configure(att: Attachment, address: ipaddress.IPv4Interface) -> None:
    """Put `address` on the attachment's interface (a fresh VLAN interface for a VLAN)."""
    site = att.site
    if not _ip(site.netns, "-o", "link", "show", "dev", site.interface, check=False):
        raise TrafficError(f"site {label(site)}: no {site.interface} in netns {site.netns}")
    if att.vlan is not None:
        if _ip(site.netns, "-o", "link", "show", "dev", att.ifname, check=False):
            _ip(site.netns, "link", "del", "dev", att.ifname)  # a leftover of a killed run
        script = "\n".join(sites.vlan_commands(site, att.vlan, att.ifname)) + "\n"
        run(["ip", "-n", site.netns, "-batch", "-"], timeout=10, stdin=script)
    _ip(site.netns, "addr", "replace", str(address), "dev", att.ifname)


def _unconfigure(att: Attachment, address: ipaddress.IPv4Interface) -> None:
    """Undo `_configure`, also after it stopped half-way; never fails."""
    if att.vlan is not None:
        _ip(att.site.netns, "link", "del", "dev", att.ifname, check=False)
    else:
        _ip(att.site.netns, "addr", "del", str(address), "dev", att.ifname, check=False)


@contextmanager
def attach(
    a: Attachment, b: Attachment, *, index: int | None = None
) -> Iterator[tuple[Endpoint, Endpoint]]:
    """Both ends of a service pair configured (`.1` at `a`, `.2` at `b`), removed on exit."""
    subnet = pair_subnet(pair_index(a, b) if index is None else index)
    hosts = list(subnet.hosts())
    ends = [(a, ipaddress.IPv4Interface(f"{hosts[0]}/30"))]
    ends.append((b, ipaddress.IPv4Interface(f"{hosts[1]}/30")))
    done: list[tuple[Attachment, ipaddress.IPv4Interface]] = []
    try:
        for att, address in ends:
            done.append((att, address))
            _configure(att, address)
        yield Endpoint(a, ends[0][1]), Endpoint(b, ends[1][1])
    finally:
        for att, address in reversed(done):
            _unconfigure(att, address)


def site_host(gateway: ipaddress.IPv4Interface) -> ipaddress.IPv4Interface:
    """A routed site's own address: the one after its gateway in the subnet (the one
    before, when the gateway is the subnet's last host)."""
    net = gateway.network
    usable = list(net.hosts()) if net.prefixlen < 31 else list(net)
    for candidate in (gateway.ip + 1, gateway.ip - 1):
        if candidate in usable:
            return ipaddress.IPv4Interface(f"{candidate}/{net.prefixlen}")
    raise TrafficError(f"gateway {gateway}: no address left in its subnet for the site")


@contextmanager
def attach_routed(
    sites: Sequence[tuple[Attachment, str]],
) -> Iterator[list[Endpoint]]:
    """Sites of an L3VPN, each given as (attachment, its gateway "a.b.c.d/len" — the
    endpoint's `address`): each gets the next address of its subnet and a route to every
    other site's subnet through its gateway. Removed on exit."""
    ends = [(att, ipaddress.IPv4Interface(gateway)) for att, gateway in sites]
    done: list[tuple[Attachment, ipaddress.IPv4Interface, list[str]]] = []
    try:
        for att, gateway in ends:
            address = site_host(gateway)
            routes: list[str] = []
            done.append((att, address, routes))
            _configure(att, address)
            for other, theirs in ends:
                if other is att or theirs.network == gateway.network:
                    continue
                prefix = str(theirs.network)
                _ip(
                    att.site.netns,
                    "route",
                    "replace",
                    prefix,
                    "via",
                    str(gateway.ip),
                    "dev",
                    att.ifname,
                )
                routes.append(prefix)
        yield [Endpoint(att, address) for att, address, _ in done]
    finally:
        for att, address, routes in reversed(done):
            for prefix in routes:
                _ip(att.site.netns, "route", "del", prefix, "dev", att.ifname, check=False)
            _unconfigure(att, address)


@contextmanager
def impersonate(intruder: SiteInfo, victim_end: Endpoint, vlan: int | None) -> Iterator[Endpoint]:
    """Configure `intruder` with the address of `victim_end` (on `vlan`, or untagged): the
    strongest attempt a foreign site can make to join a pair. Removed on exit."""
    att = Attachment(intruder, vlan)
    try:
        _configure(att, victim_end.address)
        yield Endpoint(att, victim_end.address)
    finally:
        _unconfigure(att, victim_end.address)


@dataclass(frozen=True)
class PingResult:
    sent: int
    received: int
    rtt_avg_ms: float | None

    @property
    def loss_pct(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    @property
    def reachable(self) -> bool:
        return self.received > 0

    def summary(self) -> str:
        rtt = f", rtt avg {self.rtt_avg_ms:.2f} ms" if self.rtt_avg_ms is not None else ""
        return f"{self.received}/{self.sent} replies, loss {self.loss_pct:.0f}%{rtt}"


_SENT = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"= [\d.]+/([\d.]+)/")


def parse_ping(text: str) -> PingResult:
    sent = _SENT.search(text)
    if sent is None:
        raise TrafficError(f"ping printed no summary: {text.strip()[-200:]!r}")
    rtt = _RTT.search(text)
    return PingResult(int(sent[1]), int(sent[2]), float(rtt[1]) if rtt else None)


def ping(
    src: Endpoint, dst: str, *, count: int = 5, interval: float = 0.2, timeout: float = 1.0
) -> PingResult:
    """`count` echo requests from `src` to `dst`, `interval` s apart; a reply later than
    `timeout` s is lost. Ends after about count * interval + timeout seconds."""
    if not 1 <= count <= 10_000:
        raise ValueError(f"count: {count} outside 1..10000")
    if not 0.01 <= interval <= 10 or not 0.01 <= timeout <= 60:
        raise ValueError("interval must be 0.01..10 s and timeout 0.01..60 s")
    argv = in_netns(src.netns, "ping", "-n", "-q", "-I", src.ifname, "-c", str(count))
    argv += ["-i", f"{interval:g}", "-W", f"{timeout:g}", dst]
    return parse_ping(run(argv, timeout=count * interval + timeout + 10, check=False))
