"""The control API's requests and the CLI's status table."""

from __future__ import annotations

import argparse

import pytest

from intentloop_lab import cli, control


def test_requests_round_trip_through_json() -> None:
    request = control.LinkLatency(a="r1", b="r2", extra_ms=12.5)
    assert control.parse_request(request.model_dump_json().encode()) == request


@pytest.mark.parametrize(
    "line",
    [
        b'{"op": "reboot"}',
        b'{"op": "link-admin", "a": "r1", "b": "r2"}',
        b'{"op": "link-latency", "a": "r1", "b": "r2", "extra_ms": -5}',
        b'{"op": "device", "action": "explode", "router": "r1"}',
        b'{"op": "status", "extra": 1}',
        b"not json",
    ],
)
def test_malformed_requests_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        control.parse_request(line)


def test_status_is_a_readable_table() -> None:
    result = {
        "topology": "tri",
        "routers": [
            {
                "name": "r1",
                "platform": "netconf",
                "running": True,
                "netconf_port": 4001,
                "gnmi_port": 4002,
            },
            {
                "name": "r2",
                "platform": "gnmi",
                "running": False,
                "netconf_port": None,
                "gnmi_port": 4003,
            },
        ],
        "links": [
            {
                "name": "r1-r2",
                "admin_up": False,
                "oper_up": False,
                "latency_ms": 22.0,
                "injected_latency_ms": 20.0,
                "utilisation_mbps": 0.0,
                "capacity_mbps": 1000,
            },
            {
                "name": "r2-r3",
                "admin_up": True,
                "oper_up": True,
                "latency_ms": 3.0,
                "injected_latency_ms": 0.0,
                "utilisation_mbps": 250.0,
                "capacity_mbps": 1000,
            },
        ],
    }
    lines = cli.format_status(result).splitlines()
    assert lines[2].split() == ["ROUTER", "PLATFORM", "NETCONF", "GNMI", "STATE"]
    assert lines[3].split() == ["r1", "netconf", "4001", "4002", "up"]
    assert lines[4].split() == ["r2", "gnmi", "-", "4003", "STOPPED"]
    assert "DOWN (admin)" in lines[7] and "22 ms (+20 injected)" in lines[7]
    assert lines[8].split()[-3:] == ["250/1000", "Mbps", "(25%)"]


def test_every_subcommand_has_a_function() -> None:
    parser = argparse.ArgumentParser(prog="intentloop")
    cli.register(parser.add_subparsers(dest="command"))
    for argv in (
        ["lab", "up", "--topology", "t.yaml", "--state-dir", "/tmp/x"],
        ["lab", "down"],
        ["lab", "status"],
        ["lab", "link", "down", "r1", "r2"],
        ["lab", "link", "up", "r1", "r2"],
        ["lab", "link", "latency", "r1", "r2", "20"],
        ["lab", "device", "reject", "r1"],
        ["lab", "inventory"],
    ):
        args = parser.parse_args(argv)
        assert callable(args.func)


def test_the_state_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INTENTLOOP_STATE_DIR", str(tmp_path))
    assert cli.state_dir_of(argparse.Namespace(state_dir=None)) == tmp_path / "lab"
    monkeypatch.delenv("INTENTLOOP_STATE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "state" / "intentloop" / "lab"
    assert cli.state_dir_of(argparse.Namespace(state_dir=None)) == expected
