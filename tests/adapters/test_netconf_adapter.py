"""NETCONF-specific promises: who we talk to, what we send and what we refuse to read."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ncclient import manager

from intentloop_adapters import netconf_notifications
from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_adapters.netconf import NetconfAdapter
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan, Vrf
from intentloop_intents.device import xml as device_xml
from intentloop_intents.device.model import StaticRoute
from tests.adapters.netconf_fixtures import NetconfLabHandle, free_port

pytestmark = pytest.mark.lab

BASE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", description="uplink", owners=frozenset({"ops/core"})),),
    vlans=(Vlan(vlan_id=100, name="svc-a", owners=frozenset({"t1/svc-a"})),),
)
HOSTILE = (
    "a < b && c > d \"dq\" 'sq' ]]>]]> \n#12\nnot a chunk\n##\n"
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>&xxe; &amp; <![CDATA[x]]> é ✓'
)


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


def other_host_key() -> str:
    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def logins(handle: NetconfLabHandle) -> int:
    return (handle.device.workdir / "sshd.log").read_text().count("Accepted publickey")


async def test_a_device_presenting_another_host_key_is_refused_before_we_log_in(
    netconf_lab_device: NetconfLabHandle,
) -> None:
    device = netconf_lab_device.device
    before = logins(netconf_lab_device)
    impostor_check = NetconfAdapter(
        name=device.name,
        host="127.0.0.1",
        port=device.port,
        username=device.username,
        private_key=device.client_private_key_pem,
        known_host_key=other_host_key(),
        connect_timeout_s=5,
    )
    with pytest.raises(PermanentDeviceError, match="host key"):
        await impostor_check.connect()
    await impostor_check.close()
    assert logins(netconf_lab_device) == before  # our key was never offered


@pytest.mark.parametrize(
    "line", ["", "AAAAC3NzaC1lZDI1NTE5", "ssh-ed25519 not-base64!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5"]
)
def test_a_malformed_known_host_key_is_refused_when_the_adapter_is_built(line: str) -> None:
    with pytest.raises(ValueError, match="known host key"):
        NetconfAdapter(
            name="r1",
            host="127.0.0.1",
            port=830,
            username="u",
            private_key="/nonexistent",
            known_host_key=line,
        )


async def test_hostile_text_is_stored_on_the_device_literally(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    tree = DeviceConfigTree(
        interfaces=(
            Interface(name="eth1", description=HOSTILE[:240], owners=frozenset({HOSTILE})),
        ),
        vlans=(Vlan(vlan_id=7, name="]]>]]><rpc/>&lt;", owners=frozenset({"x&y<z>"})),),
    )
    await apply(adapter, tree)
    assert await adapter.get_config() == tree.canonical()
    # netconfd persisted it as character data, not markup: its own file reads back the same.
    stored = (netconf_lab_device.device.workdir / "startup-cfg.xml").read_bytes()
    assert device_xml.parse_config(stored) == tree.canonical()


def test_a_reply_declaring_an_external_entity_is_refused_without_expanding_it(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    reply = f"""<?xml version="1.0"?>
<!DOCTYPE rpc-reply [<!ENTITY xxe SYSTEM "file://{secret}">]>
<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">
  <data><device xmlns="urn:intentloop:device">
    <interface><name>eth1</name><description>&xxe;</description></interface>
  </device></data>
</rpc-reply>"""
    with pytest.raises(device_xml.DeviceXmlError) as refused:
        device_xml.parse_config(reply)
    assert "TOP-SECRET-VALUE" not in str(refused.value)


def test_a_reply_with_an_entity_bomb_is_refused() -> None:
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    reply = f"""<!DOCTYPE data [{entities}]>
<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><device xmlns="urn:intentloop:device">
<vlan><vlan-id>1</vlan-id><name>&e9;</name></vlan></device></data>"""
    with pytest.raises(device_xml.DeviceXmlError) as refused:
        device_xml.parse_config(reply)
    assert "lollol" not in str(refused.value)


async def test_capabilities_name_confirmed_commit_notifications_and_the_server(
    adapter: NetconfAdapter,
) -> None:
    capabilities = await adapter.capabilities()
    assert capabilities.confirmed_commit
    assert capabilities.notifications
    assert "intentloop-device" in capabilities.models
    assert re.search(r"netconfd \d", capabilities.software_version)


async def test_a_lock_held_by_another_session_is_transient_and_clears_after_rollback(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    other = netconf_lab_device.make_adapter()
    try:
        await adapter.stage(BASE)
        with pytest.raises(TransientDeviceError, match="lock"):
            await other.stage(BASE)
        await adapter.rollback()
        await apply(other, BASE)
        assert await adapter.get_config() == BASE.canonical()
    finally:
        await other.close()


async def test_an_abandoned_unlocked_candidate_edit_is_discarded_not_committed(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    device = netconf_lab_device.device
    stray = device_xml.render_config(DeviceConfigTree(vlans=(Vlan(vlan_id=999, name="stray"),)))
    with manager.connect(
        host="127.0.0.1",
        port=device.port,
        username=device.username,
        key_filename=str(device.workdir / "client_ed25519_key"),
        hostkey_verify=True,
        hostkey_b64=device.host_public_key.split()[1],
        unknown_host_cb=lambda _h, _f: False,
        allow_agent=False,
        look_for_keys=False,
    ) as someone_else:
        someone_else.edit_config(target="candidate", config=stray)  # no lock, no commit
        await apply(adapter, BASE)
    assert await adapter.get_config() == BASE.canonical()


async def test_the_adapter_reconnects_after_the_device_restarts_with_its_config(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    await apply(adapter, BASE)
    await asyncio.to_thread(netconf_lab_device.device.stop)
    await asyncio.to_thread(netconf_lab_device.device.start)
    try:
        running = await adapter.get_config()
    except TransientDeviceError:  # the old session was found dead on this call
        running = await adapter.get_config()
    assert running == BASE.canonical()


def random_tree(rng: random.Random) -> DeviceConfigTree:
    def owners() -> frozenset[str]:
        return frozenset(rng.sample(["a/x", "b/y", "c/z"], rng.randint(0, 2)))

    interfaces = tuple(
        Interface(
            name=name,
            enabled=rng.random() < 0.7,
            description=rng.choice(["", "d1", HOSTILE[:60]]),
            mtu=rng.choice([None, 1500, 9000]),
            owners=owners(),
        )
        for name in ("eth1", "eth2", "eth3")
        if rng.random() < 0.6
    )
    vlans = tuple(
        Vlan(vlan_id=v, name=rng.choice(["", "n"]), owners=owners())
        for v in (10, 20, 30)
        if rng.random() < 0.5
    )
    policers = tuple(
        Policer(name=p, rate_mbps=rng.choice([10, 20]), owners=owners())
        for p in ("p1", "p2")
        if rng.random() < 0.5
    )
    routes = [StaticRoute(prefix=f"10.{n}.0.0/16", next_hop=f"169.254.0.{n}") for n in range(3)]
    vrfs = tuple(
        Vrf(name=v, static_routes=tuple(rng.sample(routes, rng.randint(0, 3))), owners=owners())
        for v in ("v1", "v2")
        if rng.random() < 0.5
    )
    subinterfaces = tuple(
        SubInterface(
            parent=parent,
            vlan_id=v,
            vrf=vrf,
            ipv4=rng.choice([None, f"10.{v}.0.1/24", "169.254.0.1/31"]) if vrf else None,
            policer=rng.choice([None, *(x.name for x in policers)]),
            owners=owners(),
        )
        for parent in ("eth1", "eth2")
        for v in (10, 20)
        if rng.random() < 0.3
        for vrf in [rng.choice([None, *(x.name for x in vrfs)])]
    )
    return DeviceConfigTree(
        interfaces=interfaces,
        vlans=vlans,
        policers=policers,
        vrfs=vrfs,
        subinterfaces=subinterfaces,
    )


async def test_any_sequence_of_changes_reaches_exactly_the_desired_config(
    adapter: NetconfAdapter,
) -> None:
    """Minimal edits are built per change; whatever the previous state, each one lands."""
    rng = random.Random(6241)
    for step in range(40):
        desired = random_tree(rng)
        await apply(adapter, desired)
        assert await adapter.get_config() == desired.canonical(), f"step {step}"


async def test_a_subscription_names_the_config_node_changed_out_of_band(
    adapter: NetconfAdapter, netconf_lab_device: NetconfLabHandle
) -> None:
    await apply(adapter, BASE)
    stream = adapter.subscribe(["/intentloop-device:device/vlan"]).__aiter__()
    try:
        async with asyncio.timeout(10):
            assert (await anext(stream)).sync
            await asyncio.to_thread(netconf_lab_device.tamper)
            update = await anext(stream)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert update.path == "/intentloop-device:device/vlan[vlan-id=4000]"
    assert update.value == "create"


async def test_a_device_that_is_down_is_a_transient_error() -> None:
    nobody = NetconfAdapter(
        name="down",
        host="127.0.0.1",
        port=free_port(),  # nothing listens there
        username="u",
        private_key="/nonexistent",
        known_host_key=other_host_key(),
        connect_timeout_s=2,
    )
    with pytest.raises(TransientDeviceError) as failed:
        await nobody.get_config()
    await nobody.close()
    assert failed.value.device == "down"


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/ild:device/ild:vlan[ild:vlan-id='7']", "/intentloop-device:device/vlan[vlan-id=7]"),
        (
            '/ild:device/ild:interface[ild:name="ge-0/0:1"]/ild:mtu',
            "/intentloop-device:device/interface[name=ge-0/0:1]/mtu",
        ),
        (
            "/ild:device/ild:subinterface[ild:parent='eth1'][ild:vlan-id='10']",
            "/intentloop-device:device/subinterface[parent=eth1][vlan-id=10]",
        ),
    ],
)
def test_changed_nodes_are_named_the_way_gnmi_names_them(target: str, path: str) -> None:
    notification = f"""<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0">
      <eventTime>2026-11-01T10:00:00Z</eventTime>
      <netconf-config-change xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-notifications">
        <edit><target xmlns:ild="urn:intentloop:device">{target}</target>
        <operation>merge</operation></edit>
      </netconf-config-change></notification>"""
    [update] = netconf_notifications.updates_from("r1", notification)
    assert (update.path, update.value, update.timestamp_ns) == (path, "merge", 1793527200 * 10**9)
    assert netconf_notifications.wanted(update.path, ["/intentloop-device:device"])
    assert not netconf_notifications.wanted(update.path, ["/interfaces"])


@pytest.mark.parametrize(
    ("tree", "field"),
    [
        (
            DeviceConfigTree.model_construct(
                interfaces=(Interface.model_construct(name="eth1", mtu=9217, owners=frozenset()),)
            ),
            "mtu",
        ),
        (
            DeviceConfigTree.model_construct(
                interfaces=(
                    Interface.model_construct(
                        name="eth1", description="x" * 241, owners=frozenset()
                    ),
                )
            ),
            "description",
        ),
        (
            DeviceConfigTree.model_construct(
                vlans=(Vlan.model_construct(vlan_id=4095, name="", owners=frozenset()),)
            ),
            "vlan-id",
        ),
        (
            DeviceConfigTree.model_construct(
                policers=(
                    Policer.model_construct(
                        name="p", rate_mbps=0, burst_kbytes=1000, owners=frozenset()
                    ),
                )
            ),
            "rate-mbps",
        ),
        (
            DeviceConfigTree.model_construct(
                vrfs=(Vrf.model_construct(name="v", static_routes=(), owners=frozenset()),),
                subinterfaces=(
                    SubInterface.model_construct(
                        parent="eth1", vlan_id=7, vrf="v", ipv4="10.1.1.1", owners=frozenset()
                    ),
                ),
            ),
            "ipv4",
        ),
        (
            DeviceConfigTree.model_construct(
                vrfs=(
                    Vrf.model_construct(
                        name="v",
                        static_routes=(
                            StaticRoute.model_construct(
                                prefix="10.2.2.0/24", next_hop="169.254.0.300"
                            ),
                        ),
                        owners=frozenset(),
                    ),
                )
            ),
            "next-hop",
        ),
        (
            DeviceConfigTree.model_construct(
                vrfs=(
                    Vrf.model_construct(
                        name="v",
                        static_routes=(
                            StaticRoute.model_construct(prefix="10.2.2.0/33", next_hop="1.1.1.1"),
                        ),
                        owners=frozenset(),
                    ),
                )
            ),
            "prefix",
        ),
    ],
)
async def test_the_yang_module_makes_the_device_refuse_out_of_range_values(
    adapter: NetconfAdapter, tree: DeviceConfigTree, field: str
) -> None:
    """model_construct skips our own validation: here the device alone has to say no."""
    with pytest.raises(PermanentDeviceError, match=field):
        await adapter.stage(tree)
    assert await adapter.get_config() == DeviceConfigTree()


async def test_a_pending_commit_is_looked_for_once_per_session_not_before_every_change(
    adapter: NetconfAdapter,
) -> None:
    """cancel-commit (for a crashed predecessor's pending commit) runs on the first change
    of a session and after a change that did not end confirmed, not before every change."""
    calls: list[str] = []
    await adapter.get_config()  # the session exists
    session = adapter._session
    original = session.cancel_commit

    def counting(*args: object, **kwargs: object) -> object:
        calls.append("cancel")
        return original(*args, **kwargs)

    session.cancel_commit = counting
    first = DeviceConfigTree(vlans=(Vlan(vlan_id=11, name="a"),))
    second = DeviceConfigTree(vlans=(Vlan(vlan_id=12, name="b"),))
    await apply(adapter, first)
    await apply(adapter, second)
    assert calls == ["cancel"]
    await adapter.stage(first)
    await adapter.commit(confirm_timeout_s=60)
    await adapter.rollback()  # cancels its own pending commit...
    assert calls == ["cancel", "cancel"]
    await apply(adapter, first)  # ...and, as it did not end confirmed, the next change looks
    assert calls == ["cancel", "cancel", "cancel"]
    assert await adapter.get_config() == first.canonical()
