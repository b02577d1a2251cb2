"""The traffic library against real namespaces it did not build itself.

Two customer sites joined through a third namespace (a plain bridge: the "network"), with
their VLAN interfaces made the way the lab makes them. What the library reports must match
what the kernel does: a VLAN mismatch does not reach, a shaper holds the delivered rate, a
link held down shows as a gap at least as long as it was down.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from intentloop_lab import traffic
from intentloop_lab.labstate import SiteInfo
from intentloop_lab.traffic_gap import GapStream, GapStreams
from intentloop_lab.traffic_iperf import rate

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
]


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


@dataclass
class Wire:
    a: SiteInfo
    b: SiteInfo
    wire: str

    def port(self, side: str, up: bool) -> None:
        sh("ip", "-n", self.wire, "link", "set", "dev", f"w{side}", "up" if up else "down")

    def cut(self, side: str, cut: bool) -> None:
        """Take a site's wire out of the bridge: frames dropped, carrier kept (a site that
        loses carrier queues its packets until its neighbour answers again)."""
        master = ("nomaster",) if cut else ("master", "br0")
        sh("ip", "-n", self.wire, "link", "set", "dev", f"w{side}", *master)


def _site(ns: str, n: int) -> SiteInfo:
    """Site n of the pair: underlay 169.254.250.n/31 towards the other one."""
    return SiteInfo(
        device=f"r{n}",
        port="eth1",
        netns=ns,
        interface="port0",
        address=f"169.254.250.{n}",
        router_address=f"169.254.250.{1 - n}",
        attachment=2048,
    )


@pytest.fixture
def wire() -> Iterator[Wire]:
    tag = secrets.token_hex(3)
    names = {side: f"iltt-{tag}-{side}" for side in ("a", "w", "b")}
    try:
        for ns in names.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", names["w"], "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", names["w"], "link", "set", "br0", "up")
        sites = []
        for n, side in enumerate(("a", "b")):
            site = _site(names[side], n)
            sh(
                "ip",
                "link",
                "add",
                "port0",
                "netns",
                site.netns,
                "type",
                "veth",
                "peer",
                "name",
                f"w{side}",
                "netns",
                names["w"],
            )
            sh("ip", "-n", site.netns, "addr", "add", f"{site.address}/31", "dev", "port0")
            sh("ip", "-n", site.netns, "link", "set", "port0", "up")
            sh("ip", "-n", names["w"], "link", "set", f"w{side}", "master", "br0", "up")
            sites.append(site)
        yield Wire(sites[0], sites[1], names["w"])
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _addresses(ns: str) -> str:
    return sh("ip", "-n", ns, "-o", "addr", "show")


def test_same_vlan_reaches_and_everything_is_removed_afterwards(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 100), traffic.Attachment(wire.b, 100)
    with traffic.attach(a, b) as (ea, eb):
        assert (ea.ip, eb.ip) == ("198.18.1.145", "198.18.1.146")  # /30 number 100
        result = traffic.ping(ea, eb.ip, count=3, interval=0.1)
        assert (result.sent, result.received, result.loss_pct) == (3, 3, 0.0)
    for site in (wire.a, wire.b):
        left = _addresses(site.netns)
        assert "198.18." not in left and "port0.100" not in left


def test_a_different_vlan_does_not_reach(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 100), traffic.Attachment(wire.b, 101)
    with traffic.attach(a, b, index=7) as (ea, eb):
        result = traffic.ping(ea, eb.ip, count=3, interval=0.1, timeout=0.5)
        assert result.received == 0 and result.loss_pct == 100.0
        assert not result.reachable


def test_untagged_pair_uses_the_port_itself(wire: Wire) -> None:
    with traffic.attach(traffic.Attachment(wire.a), traffic.Attachment(wire.b)) as (ea, eb):
        assert traffic.ping(ea, eb.ip, count=2, interval=0.1).received == 2
    assert "198.18." not in _addresses(wire.a.netns)
    assert "169.254.250.0/31" in _addresses(wire.a.netns)  # the site's own address is kept


def test_rate_reports_what_the_network_delivers(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 200), traffic.Attachment(wire.b, 200)
    with traffic.attach(a, b) as (ea, eb):
        free = rate(ea, eb, mbps=20, seconds=2)
        assert free.delivered_mbps == pytest.approx(20, rel=0.1), free.summary()
        assert free.loss_pct < 2, free.summary()
        sh(
            "ip",
            "netns",
            "exec",
            wire.wire,
            "tc",
            "qdisc",
            "add",
            "dev",
            "wb",
            "root",
            "tbf",
            "rate",
            "20mbit",
            "burst",
            "20kb",
            "latency",
            "20ms",
        )
        capped = rate(ea, eb, mbps=40, seconds=3, warmup=1)
        assert capped.sent_mbps > 30, capped.summary()  # well over the cap (busy cores)
        assert capped.delivered_mbps == pytest.approx(20, rel=0.1), capped.summary()
        assert capped.steady_mbps == pytest.approx(20, rel=0.1), capped.summary()
        expected_loss = 100 * (1 - capped.delivered_mbps / capped.sent_mbps)
        assert capped.loss_pct == pytest.approx(expected_loss, abs=3), capped.summary()


def test_a_link_held_down_is_a_gap_at_least_as_long(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 300), traffic.Attachment(wire.b, 300)
    with traffic.attach(a, b) as (ea, eb):
        stream = GapStream(ea, eb, pps=1000, max_seconds=30)
        stream.start()
        time.sleep(0.3)  # the stimulus: traffic, a failure held for a while, traffic again
        wire.port("b", up=False)
        down_at = time.monotonic()
        time.sleep(0.5)
        up_at = time.monotonic()
        wire.port("b", up=True)
        time.sleep(0.5)
        result = stream.stop()
    held_ms = (up_at - down_at) * 1000
    assert result.gap_ms >= held_ms - 2
    assert 0 < result.gap_lost <= result.gap_ms + 1  # at 1000 pps: one packet per ms
    assert result.restored and result.head_ms < 100
    assert result.lost >= result.gap_lost


def test_a_quiet_stream_has_no_gap(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 400), traffic.Attachment(wire.b, 400)
    with traffic.attach(a, b) as (ea, eb):
        stream = GapStream(ea, eb, pps=500, max_seconds=10)
        stream.start()
        time.sleep(1)  # a second of traffic on an untouched network
        result = stream.stop()
    assert result.sent >= 400 and result.lost == 0
    assert result.gap_ms == 0 and result.restored


def test_a_stream_that_never_arrives_says_so(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 500), traffic.Attachment(wire.b, 501)
    with (
        traffic.attach(a, b) as (ea, eb),
        pytest.raises(traffic.TrafficError, match="no probe packet"),
    ):
        GapStream(ea, eb, pps=200, max_seconds=5).start(flowing_within=1.0)


def test_many_flows_each_report_their_own_gap(wire: Wire) -> None:
    there = (traffic.Attachment(wire.a, 600), traffic.Attachment(wire.b, 600))
    back = (traffic.Attachment(wire.b, 601), traffic.Attachment(wire.a, 601))
    untouched = (traffic.Attachment(wire.a, 602), traffic.Attachment(wire.b, 603))
    with (
        traffic.attach(*there) as (a1, b1),
        traffic.attach(*back) as (b2, a2),
        traffic.attach(*untouched) as (a3, b3),
    ):
        streams = GapStreams([(a1, b1), (b2, a2)], pps=200, max_seconds=30)
        streams.start()
        wire.cut("a", cut=True)
        down_at = time.monotonic()
        time.sleep(0.4)  # the stimulus: a failure held for a while
        up_at = time.monotonic()
        wire.cut("a", cut=False)
        time.sleep(0.3)
        results = streams.stop()
        with pytest.raises(traffic.TrafficError, match="delivered no packet"):
            GapStreams([(a3, b3)], pps=100, max_seconds=5).start(flowing_within=1.0)
    assert len(results) == 2
    for result in results:
        assert result.gap_ms >= (up_at - down_at) * 1000 - 10, result.summary()
        assert result.restored and result.gap_lost > 0, result.summary()


def test_rate_to_a_site_it_cannot_reach_is_an_error_saying_so(wire: Wire) -> None:
    a, b = traffic.Attachment(wire.a, 700), traffic.Attachment(wire.b, 701)
    with (
        traffic.attach(a, b) as (ea, eb),
        pytest.raises(traffic.TrafficError, match="iperf3: unable to connect"),
    ):
        rate(ea, eb, mbps=1, seconds=1)
