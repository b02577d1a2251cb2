"""GnmiAdapter against real lab gNMI targets over TLS: what only the gNMI side has to prove.

The protocol-neutral behaviour (stage/commit/confirm/rollback, drift, notifications) is in
the contract suite; here: TLS and credentials, Set atomicity and YANG validation on the
wire, telemetry timing and the bounded buffer, faults, and a stock pygnmi client as a
second opinion that the target speaks standard gNMI.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_adapters import gnmi_codec
from intentloop_adapters.errors import DeviceError, PermanentDeviceError, TransientDeviceError
from intentloop_adapters.gnmi import GnmiAdapter
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan
from intentloop_lab.pki import LabPki
from tests.adapters.gnmi_fixtures import GnmiLabHandle, start_target
from tests.unit.device.l3_trees import L3, with_routes

pytestmark = pytest.mark.lab

YANG = Path(__file__).parents[2] / "lab/intentloop_lab/yang/intentloop-device@2026-11-01.yang"
OPER = "/interfaces/interface[name=eth1]/state/oper-status"
OUT_OCTETS = "/interfaces/interface[name=eth1]/state/counters/out-octets"

BASE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", mtu=1500, owners=frozenset({"ns/a"})),),
    policers=(Policer(name="p1", rate_mbps=100, owners=frozenset({"ns/a"})),),
    subinterfaces=(SubInterface(parent="eth1", vlan_id=10, policer="p1"),),
)


@pytest.fixture
async def adapter(gnmi_lab_device: GnmiLabHandle) -> AsyncIterator[GnmiAdapter]:
    adapter = gnmi_lab_device.make_adapter()
    await adapter.connect()
    try:
        yield adapter
    finally:
        await adapter.close()


@pytest.fixture
def stub(gnmi_lab_device: GnmiLabHandle) -> Iterator[gnmi_pb2_grpc.gNMIStub]:
    """A raw gNMI client, for requests the adapter would never build (bad values)."""
    assert gnmi_lab_device.tls is not None
    credentials = grpc.ssl_channel_credentials(gnmi_lab_device.tls.ca_pem().encode())
    with grpc.secure_channel(f"127.0.0.1:{gnmi_lab_device.target.port}", credentials) as channel:
        yield gnmi_pb2_grpc.gNMIStub(channel)


async def apply(adapter: GnmiAdapter, desired: DeviceConfigTree, timeout_s: int = 30) -> str:
    diff = await adapter.stage(desired)
    await adapter.commit(timeout_s)
    await adapter.confirm()
    return diff


def config_update(path: str, value: object) -> gnmi_pb2.Update:
    return gnmi_pb2.Update(
        path=gnmi_codec.parse_path(f"/intentloop-device:device/{path}"),
        val=gnmi_pb2.TypedValue(json_ietf_val=json.dumps(value).encode()),
    )


async def next_update(stream: AsyncIterator[TelemetryUpdate], path: str) -> TelemetryUpdate:
    async for update in stream:
        if update.path == path:
            return update
    raise AssertionError(f"stream ended before an update for {path}")


async def until_synced(stream: AsyncIterator[TelemetryUpdate]) -> list[TelemetryUpdate]:
    seen: list[TelemetryUpdate] = []
    async for update in stream:
        if update.sync:
            return seen
        seen.append(update)
    raise AssertionError("stream ended before sync")


# --- TLS and credentials ------------------------------------------------------------------
def test_tls_is_the_default_an_adapter_without_a_ca_is_not_built() -> None:
    with pytest.raises(ValueError, match="insecure=True"):
        GnmiAdapter(name="r1", host="127.0.0.1", port=1)


async def test_a_device_whose_certificate_another_ca_signed_is_refused(
    gnmi_lab_device: GnmiLabHandle, tmp_path: Path
) -> None:
    stranger = LabPki(tmp_path / "other-ca").ca_pem()
    adapter = gnmi_lab_device.make_adapter(ca_pem=stranger)
    with pytest.raises(PermanentDeviceError, match="TLS verification failed"):
        await adapter.connect()


async def test_a_certificate_for_another_name_is_refused(gnmi_lab_device: GnmiLabHandle) -> None:
    adapter = gnmi_lab_device.make_adapter(server_name="router.elsewhere.example")
    with pytest.raises(PermanentDeviceError, match="TLS verification failed"):
        await adapter.connect()


async def test_plaintext_is_used_only_when_asked_and_never_mixed_with_tls(
    gnmi_pki: LabPki, gnmi_lab_device: GnmiLabHandle
) -> None:
    plain = start_target("plain1", None)
    try:
        insecure = plain.make_adapter()
        await insecure.connect()
        assert (await insecure.capabilities()).software_version == "intentloop-lab 0.1"
        await insecure.close()
        tls_to_plain = plain.make_adapter(ca_pem=gnmi_pki.ca_pem(), insecure=False)
        with pytest.raises(DeviceError):
            await tls_to_plain.connect()
    finally:
        plain.target.stop()
    plain_to_tls = gnmi_lab_device.make_adapter(insecure=True, ca_pem=None)
    with pytest.raises(DeviceError):
        await plain_to_tls.connect()


async def test_wrong_credentials_are_refused_as_permanent(gnmi_pki: LabPki) -> None:
    handle = start_target("auth1", gnmi_pki, username="admin", password="s3cret")
    try:
        good = handle.make_adapter(username="admin", password="s3cret")
        await good.connect()
        await good.close()
        with pytest.raises(PermanentDeviceError, match="UNAUTHENTICATED"):
            await handle.make_adapter(username="admin", password="guess").connect()
    finally:
        handle.target.stop()


# --- configuration ------------------------------------------------------------------------
async def test_a_set_with_one_bad_value_changes_nothing(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle, stub: gnmi_pb2_grpc.gNMIStub
) -> None:
    await apply(adapter, BASE)
    request = gnmi_pb2.SetRequest(
        update=[
            config_update("interface[name=eth1]/description", "fine"),
            config_update("vlan[vlan-id=20]", {"vlan-id": 20, "name": "ok"}),
            config_update("interface[name=eth1]/mtu", 70000),
        ]
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.Set(request, timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "interface[name=eth1]/mtu" in refused.value.details()
    assert "68..9216" in refused.value.details()
    assert await adapter.get_config() == BASE.canonical()


async def test_a_value_the_device_refuses_fails_the_commit_and_nothing_else_lands(
    adapter: GnmiAdapter,
) -> None:
    await apply(adapter, BASE)
    # The model allows any text; YANG strings cannot hold NUL, so the device refuses it.
    bad = BASE.model_copy(
        update={
            "vlans": (Vlan(vlan_id=30, name="fine"),),
            "interfaces": (Interface(name="eth1", description="nul\x00here"),),
        }
    )
    await adapter.stage(bad)
    with pytest.raises(PermanentDeviceError, match=r"interface\[name=eth1\]/description"):
        await adapter.commit(30)
    await adapter.rollback()
    assert await adapter.get_config() == BASE.canonical()


async def test_the_target_refuses_exactly_what_the_yang_module_refuses(
    stub: gnmi_pb2_grpc.gNMIStub,
) -> None:
    """Boundaries read from the YANG file itself: the lab must agree with netconfd."""
    entries = {
        "interface": ("interface[name=eth1]", {}),
        "vlan": ("vlan[vlan-id=7]", {}),
        "policer": ("policer[name=p]", {"rate-mbps": 5}),
        "vrf": ("vrf[name=v]", {}),
        "subinterface": ("subinterface[parent=eth1][vlan-id=7]", {}),
    }
    checked = 0
    for list_name, leaf, kind, low, high in yang_bounds():
        entry, extra = entries[list_name]
        for value, accepted in ((low - 1, False), (low, True), (high, True), (high + 1, False)):
            if value < 0:
                continue
            wire = "x" * value if kind == "length" else value
            request = gnmi_pb2.SetRequest(replace=[config_update(entry, {**extra, leaf: wire})])
            try:
                stub.Set(request, timeout=5)
                outcome = True
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
                assert leaf in exc.details()
                outcome = False
            assert outcome == accepted, f"{list_name}/{leaf}={value!r}"
            checked += 1
    assert checked >= 30


def yang_bounds() -> list[tuple[str, str, str, int, int]]:
    """(list, leaf, 'range'|'length', low, high) for every bounded non-key leaf."""
    text = YANG.read_text()
    typedefs = dict(
        re.findall(r'typedef ([\w-]+) \{\s*type string \{\s*length "(\d+\.\.\d+)"', text)
    )
    bounds = []
    for block in re.split(r"\n    list ", text)[1:]:
        list_name = block.split()[0]
        keys = re.search(r'key "([^"]+)"', block)
        assert keys is not None
        for leaf, body in re.findall(r"leaf ([\w-]+) \{(.*?)\n      \}", block, re.S):
            if leaf in keys.group(1).split():
                continue
            bound = re.search(r'(range|length) "(\d+)\.\.(\d+)"', body)
            typedef = re.search(r"type ([\w-]+);", body)
            if bound:
                kind, low, high = bound.group(1), int(bound.group(2)), int(bound.group(3))
            elif typedef and typedef.group(1) in typedefs:
                kind = "length"
                low, high = (int(x) for x in typedefs[typedef.group(1)].split(".."))
            else:
                continue
            bounds.append((list_name, leaf, kind, low, high))
    return bounds


async def test_reject_next_commit_fails_with_the_devices_message_then_works_again(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    gnmi_lab_device.reject_next_commit()
    await adapter.stage(BASE)
    with pytest.raises(PermanentDeviceError, match="commit failed") as refused:
        await adapter.commit(30)
    assert refused.value.device == gnmi_lab_device.name
    await adapter.rollback()
    assert await adapter.get_config() == DeviceConfigTree()
    await apply(adapter, BASE)
    assert await adapter.get_config() == BASE.canonical()


async def test_tamper_is_visible_in_get_config_and_in_the_next_diff(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    await apply(adapter, BASE)
    gnmi_lab_device.tamper()
    running = await adapter.get_config()
    assert running != BASE.canonical()
    assert running.interfaces[0].description == "edited on the box"
    diff = await adapter.native_diff(BASE)
    assert diff == 'update /intentloop-device:device/interface[name=eth1]/description: ""'


async def test_a_change_made_between_stage_and_commit_stops_the_commit(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    await apply(adapter, BASE)
    await adapter.stage(BASE.model_copy(update={"vlans": (Vlan(vlan_id=5),)}))
    gnmi_lab_device.tamper()
    with pytest.raises(TransientDeviceError, match="changed since stage"):
        await adapter.commit(30)
    assert (await adapter.get_config()).vlans == ()


async def test_successive_intents_converge_with_minimal_edits(adapter: GnmiAdapter) -> None:
    steps = [
        BASE,
        BASE.model_copy(update={"interfaces": (Interface(name="eth1", owners=frozenset()),)}),
        BASE.model_copy(update={"vlans": (Vlan(vlan_id=4094, name='q"]\\'),)}),
        DeviceConfigTree(),
    ]
    for desired in steps:
        await apply(adapter, desired)
        assert await adapter.get_config() == desired.canonical()
        assert await adapter.native_diff(desired) == ""
    await apply(adapter, BASE)
    diff = await adapter.stage(BASE.model_copy(update={"vlans": (Vlan(vlan_id=2),)}))
    assert diff == (
        'replace /intentloop-device:device/vlan[vlan-id=2]: {"vlan-id": 2, "name": "", "owner": []}'
    )


async def test_closing_with_an_unconfirmed_commit_reverts_it(
    gnmi_lab_device: GnmiLabHandle,
) -> None:
    first = gnmi_lab_device.make_adapter()
    await first.connect()
    await first.stage(BASE)
    await first.commit(600)
    await first.close()
    second = gnmi_lab_device.make_adapter()
    await second.connect()
    assert await second.get_config() == DeviceConfigTree()
    await second.close()


async def test_a_telemetry_only_router_refuses_config_but_streams(gnmi_pki: LabPki) -> None:
    handle = start_target("tel1", gnmi_pki, serve_config=False)
    adapter = handle.make_adapter()
    try:
        await adapter.connect()
        with pytest.raises(PermanentDeviceError, match="UNIMPLEMENTED"):
            await adapter.get_config()
        stream = adapter.subscribe([OPER])
        assert [u.value for u in await until_synced(stream)] == ["UP"]
        await stream.aclose()
    finally:
        await adapter.close()
        handle.target.stop()


# --- telemetry ----------------------------------------------------------------------------
async def test_on_change_arrives_within_a_second(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    stream = adapter.subscribe([OPER])
    assert [u.value for u in await until_synced(stream)] == ["UP"]
    gnmi_lab_device.target.set_oper_status("eth1", False)
    update = await asyncio.wait_for(next_update(stream, OPER), timeout=1.0)
    assert update.value == "DOWN"
    assert update.timestamp_ns > 0
    await stream.aclose()


async def test_samples_arrive_at_the_interval_and_counters_follow_the_rate(
    gnmi_lab_device: GnmiLabHandle,
) -> None:
    adapter = gnmi_lab_device.make_adapter(sample_interval_s=0.2)
    await adapter.connect()
    gnmi_lab_device.target.set_out_rate("eth1", 80.0)  # 10 MB/s
    stream = adapter.subscribe([OUT_OCTETS])
    await until_synced(stream)
    samples = [await asyncio.wait_for(next_update(stream, OUT_OCTETS), 2) for _ in range(6)]
    await stream.aclose()
    await adapter.close()
    pairs = list(itertools.pairwise(samples))
    gaps = [(b.timestamp_ns - a.timestamp_ns) / 1e9 for a, b in pairs]
    assert all(0.15 < gap < 0.35 for gap in gaps), gaps
    rates = [
        (int(b.value) - int(a.value)) / gap  # type: ignore[arg-type]
        for (a, b), gap in zip(pairs, gaps, strict=True)
    ]
    assert all(9e6 < rate < 11e6 for rate in rates), rates


async def test_a_slow_consumer_keeps_memory_bounded_and_still_gets_the_latest_values(
    gnmi_lab_device: GnmiLabHandle,
) -> None:
    adapter = gnmi_lab_device.make_adapter(sample_interval_s=0.001, queue_size=16)
    await adapter.connect()
    gnmi_lab_device.target.set_out_rate("eth1", 800.0)
    stream = adapter.subscribe(["/interfaces"])  # 10 leaves, 8 of them sampled every 1 ms
    await until_synced(stream)
    await asyncio.sleep(1.0)  # not reading: the device keeps sending
    (stats,) = adapter.telemetry_stats()
    assert stats.received > 1000
    assert stats.high_water <= stats.capacity == 16
    assert stats.dropped > 0
    # What the consumer had already taken before it stopped reading (the rest of the batch
    # that held the sync marker, at most one chunk) comes first; right after it, the value
    # is one from now, not from 1 s ago — the queue kept the latest, not a backlog.
    fresh = False
    for _ in range(300):
        latest = await next_update(stream, OUT_OCTETS)
        if time.time_ns() - latest.timestamp_ns < 0.5e9:
            fresh = True
            break
    assert fresh
    await stream.aclose()
    await adapter.close()


async def test_stopping_the_device_ends_the_stream_with_a_transient_error(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    stream = adapter.subscribe([OPER])
    await until_synced(stream)
    gnmi_lab_device.target.stop()
    with pytest.raises(TransientDeviceError):
        await asyncio.wait_for(next_update(stream, OPER), timeout=5)


async def test_config_changes_stream_per_entry(
    adapter: GnmiAdapter, gnmi_lab_device: GnmiLabHandle
) -> None:
    await apply(adapter, BASE)
    stream = adapter.subscribe(["/intentloop-device:device"])
    initial = await until_synced(stream)
    assert len(initial) == 3
    gnmi_lab_device.tamper()
    path = "/intentloop-device:device/interface[name=eth1]"
    update = await asyncio.wait_for(next_update(stream, path), timeout=1.0)
    assert isinstance(update.value, str)
    assert json.loads(update.value)["description"] == "edited on the box"
    await stream.aclose()


# --- a second opinion ---------------------------------------------------------------------
def test_a_stock_pygnmi_client_reads_and_writes_the_lab_target(
    gnmi_lab_device: GnmiLabHandle,
) -> None:
    from pygnmi.client import gNMIclient

    assert gnmi_lab_device.tls is not None
    target = ("127.0.0.1", gnmi_lab_device.target.port)
    with gNMIclient(target=target, path_cert=str(gnmi_lab_device.tls.ca), gnmi_timeout=5) as c:
        caps = c.capabilities()
        assert {
            "name": "intentloop-device",
            "organization": "intentloop",
            "version": "2026-11-01",
        } in caps["supported_models"]
        c.set(update=[("/intentloop-device:device", {"vlan": [{"vlan-id": 9, "name": "v"}]})])
        reply = c.get(path=["/intentloop-device:device/vlan[vlan-id=9]"])
        assert reply["notification"][0]["update"][0]["val"] == {"vlan-id": 9, "name": "v"}
        state = c.get(path=[OPER])
        assert state["notification"][0]["update"][0]["val"] == "UP"
    assert gnmi_lab_device.target.config_tree() == {"vlan": [{"vlan-id": 9, "name": "v"}]}


# --- routed sub-interfaces and static routes ----------------------------------------------
async def test_static_routes_are_set_and_removed_one_entry_at_a_time(
    adapter: GnmiAdapter, stub: gnmi_pb2_grpc.gNMIStub
) -> None:
    await apply(adapter, L3)
    desired = with_routes(L3, ("10.2.2.0/24", "169.254.0.3"), ("10.4.0.0/16", "169.254.0.1"))
    diff = await apply(adapter, desired)
    vrf = "/intentloop-device:device/vrf[name=vpn-a]"
    assert [line.split(": ")[0] for line in diff.splitlines()] == [
        f"delete {vrf}/static-route[prefix=10.3.3.0/24]",
        f"replace {vrf}/static-route[prefix=10.2.2.0/24]",
        f"replace {vrf}/static-route[prefix=10.4.0.0/16]",
    ]
    assert await adapter.get_config() == desired.canonical()
    # a stock client addresses one route's leaf, and reads the route back
    stub.Set(
        gnmi_pb2.SetRequest(
            update=[
                config_update(
                    "vrf[name=vpn-a]/static-route[prefix=10.4.0.0/16]/next-hop", "169.254.0.9"
                )
            ]
        ),
        timeout=5,
    )
    path = gnmi_codec.parse_path(
        "/intentloop-device:device/vrf[name=vpn-a]/static-route[prefix=10.4.0.0/16]"
    )
    reply = stub.Get(gnmi_pb2.GetRequest(path=[path], encoding=gnmi_pb2.JSON_IETF), timeout=5)
    value = json.loads(reply.notification[0].update[0].val.json_ietf_val)
    assert value == {"prefix": "10.4.0.0/16", "next-hop": "169.254.0.9"}
    assert await adapter.native_diff(desired) == (
        f"replace {vrf}/static-route[prefix=10.4.0.0/16]: "
        '{"prefix": "10.4.0.0/16", "next-hop": "169.254.0.1"}'
    )


@pytest.mark.parametrize(
    ("path", "value", "node"),
    [
        ("subinterface[parent=eth1][vlan-id=100]/ipv4", "10.1.1.1", "ipv4"),
        ("subinterface[parent=eth1][vlan-id=100]/ipv4", "10.1.1.1/33", "ipv4"),
        ("vrf[name=vpn-a]/static-route[prefix=10.5.0.0/16]", {"prefix": "10.5.0.0/16"}, "next-hop"),
        (
            "vrf[name=vpn-a]/static-route[prefix=10.5.0.0/16]",
            {"prefix": "10.5.0.0/16", "next-hop": "169.254.0.300"},
            "next-hop",
        ),
        ("vrf[name=vpn-a]/static-route[prefix=10.5.0.0]/next-hop", "169.254.0.1", "prefix"),
        (
            "vrf[name=vpn-a]/static-route",
            [{"prefix": "10.5.0.0/16", "next-hop": "1.1.1.1"}] * 2,
            "duplicate",
        ),
    ],
)
async def test_the_target_refuses_addresses_and_routes_netconfd_refuses(
    adapter: GnmiAdapter, stub: gnmi_pb2_grpc.gNMIStub, path: str, value: object, node: str
) -> None:
    """The module's patterns and the route's mandatory next hop, as netconfd applies them."""
    await apply(adapter, L3)
    with pytest.raises(grpc.RpcError) as refused:
        stub.Set(gnmi_pb2.SetRequest(update=[config_update(path, value)]), timeout=5)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert node in (refused.value.details() or "")
    assert await adapter.get_config() == L3.canonical()
