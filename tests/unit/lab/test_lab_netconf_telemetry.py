"""Lab routers without gNMI: topology switch, published state, inventory, relay injection.

The relay is exercised as the real script, with a small stand-in for netconfd as its child
(one that answers every rpc with `<ok/>`); the lab tests run it in front of real netconfd.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from lxml import etree

from intentloop_adapters import netconf_notifications
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_lab import inventory, labstate, netconf_relay
from intentloop_lab.netconf_relay import InterfaceState
from intentloop_lab.simulation import InterfaceStateFile
from intentloop_lab.topology import parse_topology

UP = InterfaceState(oper_up=True, latency_ms=2.0, out_rate_mbps=0.0)
DOWN = InterfaceState(oper_up=False, latency_ms=2.0, out_rate_mbps=0.0)
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbFrsVlnYWyNNwnBSSPH4Cu"


# --- topology ---------------------------------------------------------------------------
def test_a_netconf_router_can_stream_its_telemetry_as_notifications() -> None:
    topo = parse_topology(
        "routers:\n"
        "  - {name: n1, platform: netconf, telemetry: netconf}\n"
        "  - {name: n2, platform: netconf}\n"
    )
    assert [r.telemetry for r in topo.routers] == ["netconf", "gnmi"]  # gnmi by default


def test_notification_telemetry_on_a_gnmi_router_is_refused_naming_the_router() -> None:
    with pytest.raises(ValueError, match=r"routers\[g1\]\.telemetry: 'netconf' needs platform"):
        parse_topology("routers:\n  - {name: g1, platform: gnmi, telemetry: netconf}\n")
    with pytest.raises(ValueError, match="telemetry"):
        parse_topology("routers:\n  - {name: n1, platform: netconf, telemetry: snmp}\n")


# --- the state file the daemon publishes -------------------------------------------------
def test_the_state_file_is_rewritten_when_something_changed_and_not_otherwise(
    tmp_path: Path,
) -> None:
    sink = InterfaceStateFile(tmp_path / netconf_relay.STATE_FILE, ("eth1", "core-r2"))
    sink.set_latency("core-r2", 2.0)
    sink.flush()
    published = netconf_relay.read_state(str(sink.path))
    assert published is not None
    assert published[0] == {"eth1": UP._replace(latency_ms=0.0), "core-r2": UP}
    inode = sink.path.stat().st_ino

    sink.set_oper_status("core-r2", False)
    sink.set_in_rate("core-r2", 5.0)  # not part of the notification
    sink.flush()
    assert sink.path.stat().st_ino != inode  # replaced, never written in place
    after = netconf_relay.read_state(str(sink.path))
    assert after is not None and after[0]["core-r2"] == DOWN
    assert after[1] > published[1]  # when it changed

    inode = sink.path.stat().st_ino
    sink.set_oper_status("core-r2", False)  # the same value again
    sink.flush()
    assert sink.path.stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == [netconf_relay.STATE_FILE]  # no leftovers


def test_a_router_directory_that_is_gone_does_not_break_publishing(tmp_path: Path) -> None:
    sink = InterfaceStateFile(tmp_path / "gone" / netconf_relay.STATE_FILE, ("eth1",))
    sink.flush()
    assert not (tmp_path / "gone").exists()


def test_unreadable_state_is_no_state(tmp_path: Path) -> None:
    path = tmp_path / netconf_relay.STATE_FILE
    assert netconf_relay.read_state(str(path)) is None
    path.write_text('{"interface": [{"name": "eth1"}]}')
    assert netconf_relay.read_state(str(path)) is None


# --- what the relay injects, and when ---------------------------------------------------
def entries(payload: bytes) -> dict[str, str]:
    """name -> oper-status of the interface-state entries in a notification."""
    root = etree.fromstring(payload)
    ns = {"d": netconf_relay.DEVICE_NS}
    return {
        e.findtext("d:name", namespaces=ns) or "": e.findtext("d:oper-status", namespaces=ns) or ""
        for e in root.iterfind("d:interface-state/d:interface", ns)
    }


def test_the_watcher_sends_a_sample_first_then_changes_then_a_sample_each_second(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / netconf_relay.STATE_FILE)
    watcher = netconf_relay.StateWatcher(path)
    assert watcher.poll(100.0) == []  # nothing published: nothing to say
    netconf_relay.write_state(path, {"eth1": UP, "core-r2": UP}, 1)
    [sample] = watcher.poll(100.05)
    assert entries(sample) == {"eth1": "up", "core-r2": "up"}
    assert watcher.poll(100.1) == []  # unchanged, and no sample due yet

    netconf_relay.write_state(path, {"eth1": UP, "core-r2": DOWN}, 2)
    [change] = watcher.poll(100.15)
    assert entries(change) == {"core-r2": "down"}  # only what changed
    assert b"<eventTime>1970-01-01T00:00:00.000000Z</eventTime>" in change  # when it changed
    assert watcher.poll(100.9) == []
    [sample] = watcher.poll(101.06)
    assert entries(sample) == {"eth1": "up", "core-r2": "down"}


def test_a_subscription_starts_only_with_netconfds_ok_to_that_very_request() -> None:
    sub = netconf_relay.Subscription()
    request = (
        f'<rpc xmlns="{NC}" message-id="7"><create-subscription '
        f'xmlns="{netconf_relay.NOTIFICATION_NS}"/></rpc>'
    ).encode()
    ok = f'<rpc-reply xmlns="{NC}" message-id="7"><ok/></rpc-reply>'.encode()
    refused = f'<rpc-reply xmlns="{NC}" message-id="7"><rpc-error/></rpc-reply>'.encode()
    assert not sub.reply(ok, chunked=True)  # no request seen yet
    sub.request(request)
    assert not sub.reply(ok.replace(b'"7"', b'"8"'), chunked=True)  # another rpc's reply
    assert not sub.reply(refused, chunked=True)
    assert not sub.active
    sub.request(request)
    assert sub.reply(ok, chunked=True)
    assert sub.active and sub.chunked


def test_values_a_decimal64_cannot_hold_are_left_out_rather_than_sent_wrong() -> None:
    odd = InterfaceState(oper_up=True, latency_ms=float("nan"), out_rate_mbps=-1.0)
    payload = netconf_relay.notification({"eth1": odd}, 0)
    assert b"latency-ms" not in payload and b"out-rate-mbps" not in payload
    assert b"<oper-status>up</oper-status>" in payload


# --- the real relay script, both framings -------------------------------------------------
FAKE_NETCONFD = r"""
import os, re
buffer = b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    buffer += data
    for end in (b"]]>]]>", b"\n##\n"):
        at = buffer.find(end)
        if at < 0:
            continue
        message, buffer = buffer[: at + len(end)], buffer[at + len(end):]
        mid = re.search(rb'message-id="([^"]*)"', message).group(1)
        reply = (b'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="'
                 + mid + b'"><ok/></rpc-reply>')
        if message.startswith(b"\n#"):
            reply = b"\n#%d\n%s\n##\n" % (len(reply), reply)
        else:
            reply += b"]]>]]>"
        os.write(1, reply)
"""


class RelayProcess:
    def __init__(self, workdir: Path, chunked: bool) -> None:
        command = [sys.executable, "-I", netconf_relay.__file__]
        command += ["--flag", str(workdir / "reject-next-commit"), "--"]
        command += [sys.executable, "-c", FAKE_NETCONFD]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.chunked = chunked
        self.deframer = netconf_relay.Deframer()
        self.received: list[tuple[bytes, bool]] = []

    def send(self, payload: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(netconf_relay.frame(payload, self.chunked))
        self.proc.stdin.flush()

    def next_message(self, timeout: float = 5.0) -> tuple[bytes, bool]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while not self.received:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            assert ready, "the relay sent nothing in time"
            data = os.read(self.proc.stdout.fileno(), 65536)
            assert data, "the relay closed its output"
            self.received += [(p, c) for _raw, p, c in self.deframer.feed(data)]
        return self.received.pop(0)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(10)


def rpc(message_id: str, body: str) -> bytes:
    return f'<rpc xmlns="{NC}" message-id="{message_id}">{body}</rpc>'.encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["base1.0-eom", "base1.1-chunked"])
def test_the_relay_injects_whole_notifications_in_the_sessions_framing_once_subscribed(
    tmp_path: Path, chunked: bool
) -> None:
    state = str(tmp_path / netconf_relay.STATE_FILE)
    netconf_relay.write_state(state, {"eth1": UP, "core-r2": UP}, time.time_ns())
    relay = RelayProcess(tmp_path, chunked)
    try:
        relay.send(rpc("1", "<get/>"))
        assert relay.next_message() == (
            f'<rpc-reply xmlns="{NC}" message-id="1"><ok/></rpc-reply>'.encode(),
            chunked,
        )
        subscribe = f'<create-subscription xmlns="{netconf_relay.NOTIFICATION_NS}"/>'
        relay.send(rpc("2", subscribe))
        reply, framing = relay.next_message()  # nothing was injected before the <ok/>
        assert b'message-id="2"><ok/>' in reply and framing == chunked

        sample, framing = relay.next_message()
        assert framing == chunked
        assert entries(sample) == {"eth1": "up", "core-r2": "up"}
        netconf_relay.write_state(state, {"eth1": UP, "core-r2": DOWN}, time.time_ns())
        while entries(change := relay.next_message()[0]).get("core-r2") != "down":
            pass
        updates = netconf_notifications.updates_from("r1", change)
        assert ("/interfaces/interface[name=core-r2]/state/oper-status", "DOWN") in [
            (u.path, u.value) for u in updates
        ]
        relay.send(rpc("3", "<get/>"))  # replies still flow between notifications
        while b'message-id="3"' not in relay.next_message()[0]:
            pass
    finally:
        assert relay.close() == 0


# --- inventory ---------------------------------------------------------------------------
def test_a_router_without_gnmi_is_a_device_without_gnmi_and_needs_no_ca(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    router = labstate.RouterInfo(
        name="n1",
        platform="netconf",
        site="lab",
        role="edge",
        software_version="x",
        interfaces=("eth1",),
        core_interfaces=(),
        netconf=labstate.NetconfAccess(
            port=40001, host_key=HOST_KEY, username="root", private_key_file=tmp_path / "key"
        ),
    )
    state = labstate.LabState(
        topology="solo",
        daemon_pid=1,
        state_dir=tmp_path,
        socket=tmp_path / "control.sock",
        log_file=tmp_path / "lab.log",
        ca_file=tmp_path / "missing-ca.crt",  # never read: nobody needs it
        routers=(router,),
        links=(),
    )
    docs = list(yaml.safe_load_all(inventory.render(state)))
    [device] = [d for d in docs if d["kind"] == "Device"]
    assert "gnmi" not in device["spec"]
    assert DeviceSpec.model_validate(device["spec"]).netconf is not None
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"] == ["n1-credentials"]
    assert not re.search(r"gnmi", inventory.render(state))
