"""The whole lab, for real: `intentloop lab up` on three routers, faults seen over gNMI/NETCONF.

The lab runs as its own detached daemon (started by the CLI in a subprocess, exactly as a
person would) and every check goes through a real protocol: gNMI Get/Subscribe over TLS with
the lab's CA and credentials, NETCONF over SSH with the recorded host key.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from ncclient import manager
from ncclient.operations import RPCError
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_intents.device import DeviceConfigTree, Vlan
from intentloop_intents.device import xml as device_xml
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_lab import labstate

pytestmark = pytest.mark.lab

TOPOLOGY = """
name: tri
routers:
  - {name: r1, platform: netconf, site: a}
  - {name: r2, platform: gnmi, site: b, model: intentloop}
  - {name: r3, platform: netconf, site: c, ports: [eth1]}
links:
  - {a: r1, b: r2, capacityMbps: 1000, latencyMs: 2}
  - {a: r2, b: r3, capacityMbps: 1000, latencyMs: 3}
  - {a: r3, b: r1, capacityMbps: 500, latencyMs: 5, srlgs: [duct-1]}
"""
PAIR = """
name: pair
routers:
  - {name: n1, platform: netconf}
  - {name: g1, platform: gnmi}
links:
  - {a: n1, b: g1, capacityMbps: 100, latencyMs: 1}
"""
CONFIG_PATH = "/intentloop-device:device"


def lab_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "intentloop_lab", "lab", *args, "--state-dir", str(state_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def bring_up(tmp: Path, topology: str) -> labstate.LabState:
    (tmp / "topology.yaml").write_text(topology)
    done = lab_cli(tmp / "state", "up", "--topology", str(tmp / "topology.yaml"))
    assert done.returncode == 0, done.stderr
    state = labstate.read_state(tmp / "state")
    assert state is not None
    return state


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labstate.LabState]:
    tmp = tmp_path_factory.mktemp("lab")
    state = bring_up(tmp, TOPOLOGY)
    yield state
    lab_cli(state.state_dir, "down")


# --- protocol probes --------------------------------------------------------------------
def gnmi_path(text: str) -> Any:
    elems = []
    for part in filter(None, re.split(r"/(?![^\[]*\])", text)):
        name, *keys = re.split(r"\[|\]", part)
        pairs = dict(k.split("=", 1) for k in keys if k)
        elems.append(gnmi_pb2.PathElem(name=name, key=pairs))
    return gnmi_pb2.Path(elem=elems)


def typed_value(value: Any) -> Any:
    """A TypedValue as Python: JSON_IETF decoded (the encoding asked for), scalars as they are."""
    which = value.WhichOneof("value")
    raw = getattr(value, which)
    return json.loads(raw) if which in ("json_ietf_val", "json_val") else raw


class Gnmi:
    """A gNMI client of one lab router: TLS against the lab CA, the router's credentials."""

    def __init__(self, router: labstate.RouterInfo) -> None:
        access = router.gnmi
        creds = grpc.ssl_channel_credentials(root_certificates=access.ca_file.read_bytes())
        self.channel = grpc.secure_channel(f"localhost:{access.port}", creds)
        self.stub = gnmi_pb2_grpc.gNMIStub(self.channel)
        password = access.password_file.read_text()
        self.metadata = (("username", access.username), ("password", password))

    def get(self, path: str) -> Any:
        reply = self.stub.Get(
            gnmi_pb2.GetRequest(path=[gnmi_path(path)], encoding=gnmi_pb2.Encoding.JSON_IETF),
            metadata=self.metadata,
            timeout=5,
        )
        return typed_value(reply.notification[0].update[0].val)

    def set(
        self, *, update: dict[str, Any] | None = None, replace: dict[str, Any] | None = None
    ) -> None:
        request = gnmi_pb2.SetRequest()
        for body, target in ((update, request.update), (replace, request.replace)):
            if body is not None:
                value = gnmi_pb2.TypedValue(json_ietf_val=json.dumps(body).encode())
                target.append(gnmi_pb2.Update(path=gnmi_path(CONFIG_PATH), val=value))
        self.stub.Set(request, metadata=self.metadata, timeout=5)

    def on_change(self, path: str) -> queue.Queue[tuple[float, Any]]:
        """Open an ON_CHANGE stream; returns a queue of (arrival time, value) after sync."""
        request = gnmi_pb2.SubscribeRequest(
            subscribe=gnmi_pb2.SubscriptionList(
                mode=gnmi_pb2.SubscriptionList.STREAM,
                encoding=gnmi_pb2.Encoding.JSON_IETF,
                subscription=[
                    gnmi_pb2.Subscription(
                        path=gnmi_path(path), mode=gnmi_pb2.SubscriptionMode.ON_CHANGE
                    )
                ],
            )
        )
        stream = self.stub.Subscribe(iter([request]), metadata=self.metadata)
        updates: queue.Queue[tuple[float, Any]] = queue.Queue()
        synced = threading.Event()

        def read() -> None:
            try:
                for response in stream:
                    if response.sync_response:
                        synced.set()
                    for update in response.update.update:
                        updates.put((time.monotonic(), typed_value(update.val)))
            except grpc.RpcError:
                pass

        threading.Thread(target=read, daemon=True).start()
        assert synced.wait(5), f"no sync_response on {path}"
        self._streams = [*getattr(self, "_streams", []), stream]
        while not updates.empty():  # the initial snapshot is not a change
            updates.get()
        return updates

    def close(self) -> None:
        for stream in getattr(self, "_streams", []):
            stream.cancel()
        self.channel.close()


@pytest.fixture
def gnmi(lab: labstate.LabState) -> Iterator[Callable[[str], Gnmi]]:
    clients: list[Gnmi] = []

    def connect(name: str) -> Gnmi:
        clients.append(Gnmi(lab.router(name)))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()


def netconf(router: labstate.RouterInfo) -> Any:
    assert router.netconf is not None
    return manager.connect(
        host="127.0.0.1",
        port=router.netconf.port,
        username=router.netconf.username,
        key_filename=str(router.netconf.private_key_file),
        hostkey_verify=True,
        hostkey_b64=router.netconf.host_key.split()[1],
        unknown_host_cb=lambda _host, _fingerprint: False,
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )


def netconf_running(router: labstate.RouterInfo) -> DeviceConfigTree:
    with netconf(router) as session:
        reply = session.get_config(
            source="running", filter=("subtree", device_xml.subtree_filter())
        )
        return device_xml.parse_config(reply.data_xml)


def netconf_apply(router: labstate.RouterInfo, desired: DeviceConfigTree) -> None:
    with netconf(router) as session:
        reply = session.get_config(
            source="running", filter=("subtree", device_xml.subtree_filter())
        )
        edit = device_xml.minimal_edit(device_xml.parse_config(reply.data_xml), desired)
        if edit is not None:
            session.edit_config(target="candidate", config=edit)
            session.commit()


def status(state_dir: Path) -> dict[str, Any]:
    done = lab_cli(state_dir, "status", "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def link_status(state_dir: Path, name: str) -> dict[str, Any]:
    return next(s for s in status(state_dir)["links"] if s["name"] == name)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- the tests --------------------------------------------------------------------------
def test_every_router_answers_on_the_ports_lab_json_names(lab: labstate.LabState) -> None:
    text = lab_cli(lab.state_dir, "status")
    assert text.returncode == 0
    assert re.search(r"^r2\s+gnmi\s+-\s+\d+\s+up$", text.stdout, re.M)
    for router in lab.routers:
        client = Gnmi(router)
        try:
            assert client.get("/system/state/hostname") == router.name
            assert (
                client.get(f"/interfaces/interface[name={router.interfaces[0]}]/state/oper-status")
                == "UP"
            )
        finally:
            client.close()
    assert netconf_running(lab.router("r1")).is_empty()


def test_a_failed_link_is_reported_down_by_both_ends_over_gnmi(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    r1_side = gnmi("r1").on_change("/interfaces/interface[name=core-r2]/state/oper-status")
    r2_side = gnmi("r2").on_change("/interfaces/interface[name=core-r1]/state/oper-status")
    try:
        assert lab_cli(lab.state_dir, "link", "down", "r1", "r2").returncode == 0
        assert r1_side.get(timeout=5)[1] == "DOWN"
        assert r2_side.get(timeout=5)[1] == "DOWN"
        assert gnmi("r3").get("/interfaces/interface[name=core-r1]/state/oper-status") == "UP"
        assert link_status(lab.state_dir, "r1-r2")["oper_up"] is False
    finally:
        assert lab_cli(lab.state_dir, "link", "up", "r2", "r1").returncode == 0
    assert r1_side.get(timeout=5)[1] == "UP"
    assert r2_side.get(timeout=5)[1] == "UP"


def test_injected_latency_is_what_both_ends_report(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    # Latency is measured by probes across the link: nominal + injected, plus the wire's own
    # few microseconds, once the probes have seen the change.
    path = "/interfaces/interface[name={}]/state/latency-ms"

    def reads(router: str, interface: str, ms: float) -> bool:
        return bool(gnmi(router).get(path.format(interface)) == pytest.approx(ms, abs=0.5))

    try:
        assert lab_cli(lab.state_dir, "link", "latency", "r2", "r3", "20").returncode == 0
        assert wait_for(lambda: reads("r2", "core-r3", 23.0))
        assert wait_for(lambda: reads("r3", "core-r2", 23.0))
        assert reads("r1", "core-r2", 2.0)
    finally:
        lab_cli(lab.state_dir, "link", "latency", "r2", "r3", "0")
    assert wait_for(lambda: reads("r3", "core-r2", 3.0))


def test_a_stopped_router_is_gone_and_comes_back_on_the_same_ports(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    r1 = lab.router("r1")
    assert r1.netconf is not None
    netconf_apply(r1, DeviceConfigTree(vlans=(Vlan(vlan_id=42, name="kept"),)))
    oper = "/interfaces/interface[name=core-r1]/state/oper-status"
    try:
        assert lab_cli(lab.state_dir, "device", "stop", "r1").returncode == 0
        assert not port_open(r1.netconf.port)
        assert not port_open(r1.gnmi.port)
        assert wait_for(lambda: gnmi("r2").get(oper) == "DOWN")
        assert wait_for(lambda: gnmi("r3").get(oper) == "DOWN")
        assert "STOPPED" in lab_cli(lab.state_dir, "status").stdout
    finally:
        assert lab_cli(lab.state_dir, "device", "start", "r1").returncode == 0
    assert wait_for(lambda: gnmi("r2").get(oper) == "UP")
    assert gnmi("r1").get("/system/state/hostname") == "r1"
    assert netconf_running(r1).vlans == (Vlan(vlan_id=42, name="kept"),)  # config survived
    netconf_apply(r1, DeviceConfigTree())


def test_a_rejecting_router_refuses_exactly_the_next_commit(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    r2 = gnmi("r2")
    assert lab_cli(lab.state_dir, "device", "reject", "r2").returncode == 0
    with pytest.raises(grpc.RpcError) as refused:
        r2.set(update={"vlan": [{"vlan-id": 7}]})
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    r2.set(update={"vlan": [{"vlan-id": 7}]})
    r2.set(replace={})

    r1 = lab.router("r1")
    assert lab_cli(lab.state_dir, "device", "reject", "r1").returncode == 0
    with pytest.raises(RPCError):
        netconf_apply(r1, DeviceConfigTree(vlans=(Vlan(vlan_id=7),)))
    netconf_apply(r1, DeviceConfigTree(vlans=(Vlan(vlan_id=7),)))
    netconf_apply(r1, DeviceConfigTree())


def test_tampering_changes_running_config_behind_the_controllers_back(
    lab: labstate.LabState, gnmi: Callable[[str], Gnmi]
) -> None:
    r2 = gnmi("r2")
    before = r2.get(CONFIG_PATH)
    try:
        assert lab_cli(lab.state_dir, "device", "tamper", "r2").returncode == 0
        assert r2.get(CONFIG_PATH) != before
        assert lab_cli(lab.state_dir, "device", "tamper", "r3").returncode == 0
        assert not netconf_running(lab.router("r3")).is_empty()
    finally:
        r2.set(replace=before or {})
        netconf_apply(lab.router("r3"), DeviceConfigTree())


def test_mistyped_commands_are_refused_with_the_reason(lab: labstate.LabState) -> None:
    done = lab_cli(lab.state_dir, "link", "down", "r1", "r9")
    assert done.returncode == 1
    assert "no link between 'r1' and 'r9'" in done.stderr
    done = lab_cli(lab.state_dir, "device", "stop", "r9")
    assert done.returncode == 1
    assert "no router 'r9'" in done.stderr
    assert all(s["oper_up"] for s in status(lab.state_dir)["links"])


def test_inventory_describes_the_running_lab(lab: labstate.LabState) -> None:
    done = lab_cli(lab.state_dir, "inventory")
    assert done.returncode == 0
    docs = list(yaml.safe_load_all(done.stdout))
    devices = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Device"}
    assert set(devices) == {"r1", "r2", "r3"}
    for name, spec in devices.items():
        DeviceSpec.model_validate(spec)
        assert spec["gnmi"]["port"] == lab.router(name).gnmi.port
    assert devices["r1"]["netconf"]["hostKey"] == lab.router("r1").netconf.host_key  # type: ignore[union-attr]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "Link"} == {
        "r1-r2",
        "r2-r3",
        "r3-r1",
    }


def test_lab_up_twice_keeps_the_running_lab(lab: labstate.LabState) -> None:
    done = lab_cli(lab.state_dir, "up")
    assert done.returncode == 0
    assert "already up" in done.stderr
    again = labstate.read_state(lab.state_dir)
    assert again is not None
    assert again.daemon_pid == lab.daemon_pid
    assert [r.gnmi.port for r in again.routers] == [r.gnmi.port for r in lab.routers]


def test_lab_down_leaves_no_process_socket_or_directory(tmp_path: Path) -> None:
    state = bring_up(tmp_path, PAIR)
    pids = [state.daemon_pid, *(p for r in state.routers for p in r.pids)]
    ports = [r.gnmi.port for r in state.routers] + [
        r.netconf.port for r in state.routers if r.netconf is not None
    ]
    assert len(state.router("n1").pids) >= 2  # sshd and netconfd at least
    assert all(port_open(port) for port in ports)
    assert lab_cli(state.state_dir, "down").returncode == 0
    assert not any(labstate.pid_alive(pid) for pid in pids)
    assert not any(port_open(port) for port in ports)
    assert sorted(p.name for p in state.state_dir.iterdir()) == ["lab.log"]
    assert lab_cli(state.state_dir, "status").returncode == 3


def test_lab_down_cleans_up_after_a_daemon_that_was_killed(tmp_path: Path) -> None:
    state = bring_up(tmp_path, PAIR)
    children = state.router("n1").pids
    os.kill(state.daemon_pid, signal.SIGKILL)
    assert wait_for(lambda: not labstate.pid_alive(state.daemon_pid))
    assert any(labstate.pid_alive(pid) for pid in children)  # orphans, until `down`
    assert lab_cli(state.state_dir, "down").returncode == 0
    assert wait_for(lambda: not any(labstate.pid_alive(pid) for pid in children))
    assert sorted(p.name for p in state.state_dir.iterdir()) == ["lab.log"]


def test_a_lab_that_cannot_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "routers").write_text("a file where the routers' directory should be")
    (tmp_path / "topology.yaml").write_text(PAIR)
    try:
        done = lab_cli(state_dir, "up", "--topology", str(tmp_path / "topology.yaml"))
        assert done.returncode == 1
        assert "did not start" in done.stderr
        assert str(state_dir / "routers") in done.stderr
        assert sorted(p.name for p in state_dir.iterdir()) == ["lab.log", "routers"]
        assert labstate.processes_mentioning(state_dir) == ()
    finally:
        lab_cli(state_dir, "down")


def test_a_broken_topology_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "topology.yaml").write_text(PAIR.replace("b: g1", "b: g9"))
    done = lab_cli(tmp_path / "state", "up", "--topology", str(tmp_path / "topology.yaml"))
    assert done.returncode == 2
    assert "unknown router 'g9'" in done.stderr
    assert not (tmp_path / "state").exists()
