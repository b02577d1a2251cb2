"""The traffic tool's arithmetic: addresses, the parsing of ping/iperf3, gap accounting."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from intentloop_lab import traffic, traffic_cli
from intentloop_lab.labstate import LabState, SiteInfo
from intentloop_lab.traffic_cli import attachments, service_attachments
from intentloop_lab.traffic_gap import combine
from intentloop_lab.traffic_iperf import parse_iperf
from intentloop_lab.traffic_probe import summarise


def _site(device: str, port: str, n: int) -> SiteInfo:
    return SiteInfo(
        device=device,
        port=port,
        netns=f"il-abc123-{device}.{port}",
        interface="port0",
        address=f"169.254.64.{2 * n + 1}",
        router_address=f"169.254.64.{2 * n}",
        attachment=2048 + n,
    )


def _state() -> LabState:
    return LabState(
        topology="t",
        daemon_pid=1,
        state_dir=Path("/x"),
        socket=Path("/x/s"),
        log_file=Path("/x/l"),
        ca_file=Path("/x/c"),
        routers=(),
        links=(),
        sites=(_site("r1", "eth1", 0), _site("r4", "eth2", 1)),
    )


def test_pair_subnets_are_disjoint_30s_inside_the_benchmarking_range() -> None:
    nets = [traffic.pair_subnet(i) for i in (0, 1, 4094, traffic.PAIRS - 1)]
    assert [str(n) for n in nets[:2]] == ["198.18.0.0/30", "198.18.0.4/30"]
    assert all(n.subnet_of(ipaddress.IPv4Network("198.18.0.0/15")) for n in nets)
    assert len({n.network_address for n in nets}) == 4
    with pytest.raises(ValueError, match="outside"):
        traffic.pair_subnet(traffic.PAIRS)


def test_attachment_names_and_vlan_range() -> None:
    site = _site("r1", "eth1", 0)
    assert traffic.Attachment(site, 100).ifname == "port0.100"
    assert traffic.Attachment(site).ifname == "port0"
    assert str(traffic.Attachment(site, 7)) == "r1/eth1 vlan 7"
    with pytest.raises(ValueError, match="vlan: 4095"):
        traffic.Attachment(site, 4095)


def test_parse_ping_summary_and_total_loss() -> None:
    ok = traffic.parse_ping(
        "--- 198.18.0.2 ping statistics ---\n"
        "5 packets transmitted, 4 received, 20% packet loss, time 804ms\n"
        "rtt min/avg/max/mdev = 0.041/0.062/0.101/0.021 ms\n"
    )
    assert (ok.sent, ok.received, ok.loss_pct, ok.rtt_avg_ms) == (5, 4, 20.0, 0.062)
    lost = traffic.parse_ping("3 packets transmitted, 0 received, 100% packet loss\n")
    assert not lost.reachable and lost.rtt_avg_ms is None and lost.loss_pct == 100.0
    with pytest.raises(traffic.TrafficError, match="no summary"):
        traffic.parse_ping("ping: bind: Cannot assign requested address")


def test_parse_iperf_counts_what_the_receiver_got() -> None:
    report = {
        "end": {
            "sum_sent": {"bytes": 15_000_000, "bits_per_second": 40e6, "packets": 12_500},
            "sum_received": {
                "bytes": 7_500_000,
                "seconds": 3.0,
                "lost_packets": 6_250,
                "packets": 12_500,
            },
        }
    }
    r = parse_iperf(report, 40)
    assert r.delivered_mbps == pytest.approx(20.0) and r.steady_mbps is None
    assert r.sent_mbps == pytest.approx(40.0) and r.loss_pct == pytest.approx(50.0)
    intervals = [
        {"sum": {"start": t / 2, "seconds": 0.5, "bytes": 4_000_000 if t < 2 else 1_250_000}}
        for t in range(6)
    ]
    steady = parse_iperf({**report, "server_output_json": {"intervals": intervals}}, 40, 1.0)
    assert steady.steady_mbps == pytest.approx(20.0)  # the first second's burst left out
    with pytest.raises(traffic.TrafficError, match="unable to connect"):
        parse_iperf({"error": "unable to connect to server"}, 10)


def test_summarise_counts_only_lost_packets_as_a_gap() -> None:
    ms = 1_000_000
    seqs = [0, 1, 2, 3, 10, 11, 11, 12]  # 4..9 lost; 11 twice
    arrived = [0, 1, 2, 3, 50, 51, 52, 53]
    got = summarise(seqs, [s * ms for s in seqs], [a * ms for a in arrived])
    assert (got["received"], got["duplicates"], got["gap_lost"]) == (7, 1, 6)
    assert got["gap_ns"] == 7 * ms and got["gap_at_ns"] == 3 * ms
    assert got["max_silence_ns"] == 47 * ms and got["max_delay_ns"] == 41 * ms
    stalled = summarise([0, 1, 2], [0, 1, 400 * ms], [0, 1, 400 * ms])
    assert stalled["gap_ns"] == 0  # a slow sender with nothing lost is no gap


def test_combine_reports_head_and_tail_outages() -> None:
    sender = {"sent": 1000, "start_ns": 0, "end_ns": 1_000_000_000}
    rx = summarise(list(range(100, 600)), [s * 1_000_000 for s in range(100, 600)], [0] * 500)
    result = combine(sender, rx, 1000)
    assert (result.head_ms, result.tail_ms) == (100.0, 401.0)
    assert result.lost == 500 and not result.restored
    nothing = combine(sender, summarise([], [], []), 1000)
    assert nothing.received == 0 and not nothing.restored and nothing.tail_ms == 1000.0


def test_service_pairs_come_from_endpoints_and_the_allocated_vlan() -> None:
    service = {
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r4", "interface": "eth2"},
            ]
        },
        "status": {"allocated": {"vlan": 123}},
    }
    a, b = service_attachments(_state(), service)
    assert (a.site.netns, b.site.netns, a.vlan, b.vlan) == (
        "il-abc123-r1.eth1",
        "il-abc123-r4.eth2",
        123,
        123,
    )
    per_port = {
        **service,
        "status": {
            "allocated": {
                "endpoints": [
                    {"device": "r1", "interface": "eth1", "vlan": 100},
                    {"device": "r4", "interface": "eth2", "vlan": 2000},
                ]
            }
        },
    }
    a, b = service_attachments(_state(), per_port)  # each site on its own VLAN
    assert (a.site.netns, a.vlan, b.site.netns, b.vlan) == (
        "il-abc123-r1.eth1",
        100,
        "il-abc123-r4.eth2",
        2000,
    )
    untagged = service_attachments(_state(), {"spec": service["spec"]})
    assert untagged[0].vlan is None
    with pytest.raises(traffic.TrafficError, match="r9/eth1"):
        attachments(_state(), [{"device": "r9", "interface": "eth1"}] * 2, None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "r1", "--to", "r4/eth2"], "--from: 'r1' is not ROUTER/PORT"),
        (["--from", "r1/eth1"], "say which sites"),
        (["--from", "r1/eth1", "--to", "r4/eth2", "--vlan", "5000"], "vlan: 5000"),
        (["--from", "r1/eth1", "--to", "r5/eth1"], "no customer site behind r5/eth1"),
        (["--service", "tenant-a", "--kubeconfig", "/nonexistent"], "not NAMESPACE/NAME"),
        (["--service", "a/b", "--from", "r1/eth1"], "not both"),
    ],
)
def test_cli_refuses_bad_pairs_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    from intentloop_lab import __main__, labstate

    labstate.write_state(tmp_path, _state())
    code = __main__.main(["lab", "traffic", "ping", "--state-dir", str(tmp_path), *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_without_a_lab_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from intentloop_lab import __main__

    code = __main__.main(["lab", "traffic", "rate", "--state-dir", str(tmp_path)])
    assert code == 3 and "no lab running" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("gateway", "site"),
    [
        ("10.1.0.1/24", "10.1.0.2/24"),
        ("10.1.0.254/24", "10.1.0.253/24"),  # the subnet's last host: the one before
        ("192.0.2.0/31", "192.0.2.1/31"),
    ],
)
def test_a_routed_site_takes_the_address_next_to_its_gateway(gateway: str, site: str) -> None:
    assert str(traffic.site_host(ipaddress.IPv4Interface(gateway))) == site


def test_a_gateway_alone_in_its_subnet_leaves_no_address_for_the_site() -> None:
    with pytest.raises(traffic.TrafficError, match="no address left"):
        traffic.site_host(ipaddress.IPv4Interface("10.1.0.1/32"))


def test_only_an_l3vpn_gives_gateways_and_it_must_give_both() -> None:
    ends = [{"device": "r1", "interface": "eth1"}, {"device": "r2", "interface": "eth1"}]
    assert traffic_cli.service_gateways({"spec": {"endpoints": ends}}) is None
    routed = [{**ends[0], "address": "10.1.0.1/24"}, {**ends[1], "address": "10.2.0.1/24"}]
    vpn = {"spec": {"type": "l3vpn", "endpoints": routed}}
    assert traffic_cli.service_gateways(vpn) == ("10.1.0.1/24", "10.2.0.1/24")
    with pytest.raises(traffic.TrafficError, match="need their addresses"):
        traffic_cli.service_gateways({"spec": {"type": "l3vpn", "endpoints": ends}})
