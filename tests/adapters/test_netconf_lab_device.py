"""The lab's NETCONF router: what the lab orchestration and the tests rely on."""

from __future__ import annotations

import os
import pwd
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from intentloop_adapters.errors import DeviceError
from intentloop_adapters.netconf import NetconfAdapter
from intentloop_intents.device import DeviceConfigTree, Vlan
from intentloop_lab import netconf_relay
from intentloop_lab.netconf_device import _alive, _descendants
from tests.adapters.netconf_fixtures import NetconfLabHandle

pytestmark = pytest.mark.lab

TREE = DeviceConfigTree(vlans=(Vlan(vlan_id=42, name="kept"),))


@pytest.fixture
async def adapter(netconf_lab_device: NetconfLabHandle) -> AsyncIterator[NetconfAdapter]:
    adapter = netconf_lab_device.make_adapter()
    await adapter.connect()
    try:
        yield adapter
    finally:
        await adapter.close()


async def apply(adapter: NetconfAdapter, tree: DeviceConfigTree) -> None:
    await adapter.stage(tree)
    await adapter.commit(confirm_timeout_s=60)
    await adapter.confirm()


async def test_a_restarted_router_keeps_its_committed_config(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    await apply(adapter, TREE)
    netconf_lab_device.device.stop()
    assert not netconf_lab_device.device.running
    netconf_lab_device.device.start()
    fresh = netconf_lab_device.make_adapter()
    try:
        assert await fresh.get_config() == TREE.canonical()
    finally:
        await fresh.close()


async def test_stop_leaves_no_process_behind_even_with_sessions_open(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    device = netconf_lab_device.device
    await adapter.get_config()  # a live session: sshd child, relay, netconf-subsystem
    assert device._sshd is not None and device._netconfd is not None
    pids = [device._sshd.pid, device._netconfd.pid, *_descendants(device._sshd.pid)]
    assert len(pids) >= 4
    device.stop()
    assert not [pid for pid in pids if _alive(pid)]
    device.stop()  # idempotent


async def test_the_reject_switch_refuses_exactly_one_commit_from_any_session(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    other = netconf_lab_device.make_adapter()
    try:
        netconf_lab_device.reject_next_commit()
        await adapter.stage(TREE)
        with pytest.raises(DeviceError, match="commit failed"):
            await adapter.commit(confirm_timeout_s=60)
        await adapter.rollback()
        await apply(other, TREE)  # the switch was used up by the first commit
        assert await adapter.get_config() == TREE.canonical()
    finally:
        await other.close()


async def test_tamper_changes_running_config_every_time(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    await apply(adapter, TREE)
    seen = []
    for _ in range(2):
        netconf_lab_device.tamper()
        seen.append(await adapter.get_config())
    assert all(Vlan(vlan_id=42, name="kept") in tree.vlans for tree in seen)
    names = [next(v.name for v in tree.vlans if v.vlan_id == 4000) for tree in seen]
    assert names[0] != names[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="private ~/.yuma needs a mount namespace")
async def test_each_router_keeps_its_netconfd_state_in_its_own_workdir(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    home_file = Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".yuma" / "startup-cfg-txid.txt"
    before = home_file.read_bytes() if home_file.exists() else None
    await apply(adapter, TREE)
    own = netconf_lab_device.device.workdir / "yuma" / "startup-cfg-txid.txt"
    assert own.read_text().strip().isdigit()
    assert (home_file.read_bytes() if home_file.exists() else None) == before


def test_the_relay_cuts_streams_into_whole_messages_in_both_framings() -> None:
    deframer = netconf_relay.Deframer()
    hello = b"<hello/>]]>]]>"
    chunked = b"\n#5\n<rpc>\n#6\n</rpc>\n##\n"
    stream = hello + chunked + chunked
    messages = []
    for i in range(0, len(stream), 3):  # arbitrary read boundaries
        messages += deframer.feed(stream[i : i + 3])
    assert messages == [
        (hello, b"<hello/>", False),
        (chunked, b"<rpc></rpc>", True),
        (chunked, b"<rpc></rpc>", True),
    ]


def test_the_relay_passes_on_a_stream_it_cannot_frame_rather_than_breaking_it() -> None:
    deframer = netconf_relay.Deframer()
    garbage = b"\n#not-a-chunk-header-at-all\n"
    assert deframer.feed(garbage) == [(garbage, b"", False)]
    assert deframer.feed(b"more") == [(b"more", b"", False)]


def test_the_relays_refusal_answers_the_commit_it_replaces() -> None:
    rpc = (
        b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="m-7">'
        b"<commit><confirmed/></commit></rpc>"
    )
    reply = netconf_relay.refusal_for(rpc)
    assert reply is not None and b'message-id="m-7"' in reply and b"<rpc-error>" in reply
    assert netconf_relay.refusal_for(rpc.replace(b"commit", b"get-config")) is None
