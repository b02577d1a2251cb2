"""The OpenConfig profile against a lab router that validates with ygot's OpenConfig schema:
what a third-party validator refuses, what the router stores (valid for libyang too, qos
included), telemetry on OpenConfig state paths, drift without owners, and one transaction
across a NETCONF router (intentloop model) and an OpenConfig router."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_adapters import gnmi_codec
from intentloop_adapters.gnmi import GnmiAdapter
from intentloop_adapters.transactions import Outcome, apply_transaction
from intentloop_intents import drift
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan, Vrf
from tests.adapters.gnmi_fixtures import GnmiLabHandle
from tests.adapters.netconf_fixtures import NetconfLabHandle
from tests.openconfig_yang import errors, yanglint
from tests.unit.device.l3_trees import L3, with_address, with_routes

pytestmark = pytest.mark.lab
OWNER = frozenset({"tenant-a/svc"})
SERVICE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", description="customer", owners=OWNER),),
    vlans=(Vlan(vlan_id=120, name="svc", owners=OWNER),),
    policers=(Policer(name="svc-250m", rate_mbps=250, owners=OWNER),),
    vrfs=(Vrf(name="vpn-a", route_target="65000:12", owners=OWNER),),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=120, policer="svc-250m", owners=OWNER),
        SubInterface(parent="eth2", vlan_id=120, owners=OWNER),
        SubInterface(parent="eth2", vlan_id=300, vrf="vpn-a", owners=OWNER),
    ),
)


@pytest.fixture
async def adapter(openconfig_lab_device: GnmiLabHandle) -> AsyncIterator[GnmiAdapter]:
    adapter = openconfig_lab_device.make_adapter()
    await adapter.connect()
    try:
        yield adapter
    finally:
        await adapter.close()


async def commit(adapter: GnmiAdapter, tree: DeviceConfigTree) -> None:
    await adapter.stage(tree)
    await adapter.commit(confirm_timeout_s=60)
    await adapter.confirm()


def raw_set(handle: GnmiLabHandle, path: str, value: object) -> None:
    assert handle.tls is not None
    credentials = grpc.ssl_channel_credentials(root_certificates=handle.tls.ca_pem().encode())
    with grpc.secure_channel(f"127.0.0.1:{handle.target.port}", credentials) as channel:
        update = gnmi_pb2.Update(path=gnmi_codec.parse_path(path), val=gnmi_codec.json_ietf(value))
        gnmi_pb2_grpc.gNMIStub(channel).Set(gnmi_pb2.SetRequest(update=[update]), timeout=5)


async def test_a_set_the_validator_refuses_is_invalid_argument_naming_the_node(
    openconfig_lab_device: GnmiLabHandle,
) -> None:
    path = "/interfaces/interface[name=eth1]/subinterfaces/subinterface[index=7]"
    value = {
        "index": 7,
        "openconfig-vlan:vlan": {"match": {"single-tagged": {"config": {"vlan-id": 5000}}}},
    }
    with pytest.raises(grpc.RpcError) as refused:
        await asyncio.to_thread(raw_set, openconfig_lab_device, path, value)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "single-tagged/config/vlan-id" in (refused.value.details() or "")
    assert openconfig_lab_device.target.running_document() == {}  # nothing of it applied


async def test_a_node_outside_the_schema_is_refused(openconfig_lab_device: GnmiLabHandle) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        await asyncio.to_thread(
            raw_set, openconfig_lab_device, "/interfaces/interface[name=eth1]/config/colour", "red"
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "colour" in (refused.value.details() or "")


async def test_what_the_router_stores_is_the_service_and_valid_for_libyang(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle, tmp_path: Path
) -> None:
    await commit(adapter, SERVICE)
    stored = openconfig_lab_device.target.running_document()
    assert set(stored) == {
        "openconfig-interfaces:interfaces",
        "openconfig-network-instance:network-instances",
        "openconfig-qos:qos",  # not in ygot's exampleoc: libyang validates it here
        "openconfig-routing-policy:routing-policy",
    }
    done = yanglint([stored], tmp_path)
    assert done.returncode == 0, errors(done)
    assert openconfig_lab_device.target.device_config() == SERVICE.without_owners()
    capabilities = await adapter.capabilities()
    assert any(m.startswith("openconfig-network-instance@") for m in capabilities.models)


TRANSIT = DeviceConfigTree(
    interfaces=(Interface(name="eth1", owners=OWNER), Interface(name="eth2", owners=OWNER)),
    subinterfaces=(  # one service entering on tag 37 and leaving on 4000: the router translates
        SubInterface(parent="eth1", vlan_id=37, l2_instance="svc-tenant-a.svc", owners=OWNER),
        SubInterface(parent="eth2", vlan_id=4000, l2_instance="svc-tenant-a.svc", owners=OWNER),
    ),
)


async def test_an_l2_instance_with_a_tag_per_port_is_stored_and_valid_for_ygot_and_libyang(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle, tmp_path: Path
) -> None:
    await commit(adapter, TRANSIT)  # the lab router validated the Set with ygot
    stored = openconfig_lab_device.target.running_document()
    done = yanglint([stored], tmp_path)
    assert done.returncode == 0, errors(done)
    instances = stored["openconfig-network-instance:network-instances"]["network-instance"]
    l2 = next(i for i in instances if i["name"] == "svc-tenant-a.svc")
    assert l2["config"]["type"].endswith("L2P2P")
    assert [m["id"] for m in l2["interfaces"]["interface"]] == ["eth1.37", "eth2.4000"]
    assert await adapter.get_config() == TRANSIT.without_owners()


async def test_removing_the_service_leaves_nothing_behind(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle
) -> None:
    await commit(adapter, SERVICE)
    await commit(adapter, DeviceConfigTree())
    assert openconfig_lab_device.target.device_config() == DeviceConfigTree()
    assert await adapter.get_config() == DeviceConfigTree()


async def test_drift_on_an_openconfig_router_is_content_not_owners(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle
) -> None:
    await commit(adapter, SERVICE)
    assert drift.deviations(SERVICE, await adapter.get_config()) == []  # owners are not drift
    openconfig_lab_device.target.tamper()
    found = drift.deviations(SERVICE, await adapter.get_config())
    assert [d.path for d in found] == ["interface[eth1]/description"]
    await commit(adapter, SERVICE)  # the repair a transaction does
    assert drift.deviations(SERVICE, await adapter.get_config()) == []


async def test_telemetry_streams_openconfig_state_paths(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle
) -> None:
    paths = [
        "/interfaces/interface/state/oper-status",
        "/interfaces/interface[name=eth1]/state/counters/out-octets",
    ]
    stream = adapter.subscribe(paths).__aiter__()
    seen: dict[str, object] = {}
    try:
        async with asyncio.timeout(10):
            while not (update := await anext(stream)).sync:
                seen[update.path] = update.value
            await asyncio.to_thread(openconfig_lab_device.target.set_oper_status, "eth2", False)
            while (update := await anext(stream)).path != (
                "/interfaces/interface[name=eth2]/state/oper-status"
            ):
                pass
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    assert update.value == "DOWN"
    assert seen["/interfaces/interface[name=eth1]/state/oper-status"] == "UP"
    assert "/interfaces/interface[name=eth1]/state/counters/out-octets" in seen


async def test_one_transaction_across_a_netconf_router_and_an_openconfig_router(
    netconf_lab_device: NetconfLabHandle, openconfig_lab_device: GnmiLabHandle
) -> None:
    netconf = netconf_lab_device.make_adapter()
    openconfig = openconfig_lab_device.make_adapter()
    await netconf.connect()
    await openconfig.connect()
    try:
        plan = {netconf.name: (netconf, SERVICE), openconfig.name: (openconfig, SERVICE)}
        result = await apply_transaction(plan, transaction_id="cross-1")
        assert result.outcome is Outcome.COMMITTED, result.failure
        assert await netconf.get_config() == SERVICE.canonical()  # owners kept there
        assert await openconfig.get_config() == SERVICE.without_owners()
        again = await apply_transaction(plan, transaction_id="cross-2")
        assert again.outcome is Outcome.NO_CHANGE
        # an invalid value on the OpenConfig router rolls the NETCONF router back too
        bad = SERVICE.model_construct(
            **{
                **dict(SERVICE),
                "vlans": (Vlan.model_construct(vlan_id=5000, name="x", owners=OWNER),),
            }
        )
        plan = {netconf.name: (netconf, DeviceConfigTree()), openconfig.name: (openconfig, bad)}
        failed = await apply_transaction(plan, transaction_id="cross-3")
        assert failed.outcome is Outcome.ROLLED_BACK
        assert failed.failure is not None and failed.failure.device == openconfig.name
        assert "vlan-id" in failed.failure.message
        assert await netconf.get_config() == SERVICE.canonical()
        assert await openconfig.get_config() == SERVICE.without_owners()
    finally:
        await netconf.close()
        await openconfig.close()


def test_the_lab_validator_reports_the_offending_node_for_a_whole_document(
    openconfig_lab_device: GnmiLabHandle,
) -> None:
    """The validator is a pipe that stays up: two documents, two verdicts, one process."""
    from intentloop_lab import ocvalidator

    validator = ocvalidator.shared()
    good = {
        "openconfig-interfaces:interfaces": {
            "interface": [{"name": "eth1", "config": {"name": "eth1", "mtu": 1500}}]
        }
    }
    bad = json.loads(json.dumps(good).replace("1500", "70000"))
    assert validator.check(good) is None
    message = validator.check(bad) or ""
    assert "mtu" in message and "70000" in message


async def test_an_l3vpn_site_is_stored_as_if_ip_and_local_routing_valid_for_ygot_and_libyang(
    adapter: GnmiAdapter, openconfig_lab_device: GnmiLabHandle, tmp_path: Path
) -> None:
    await commit(adapter, L3)  # the lab router validated the Set with ygot
    stored = openconfig_lab_device.target.running_document()
    done = yanglint([stored], tmp_path)
    assert done.returncode == 0, errors(done)
    (vrf,) = stored["openconfig-network-instance:network-instances"]["network-instance"]
    (protocol,) = vrf["protocols"]["protocol"]
    assert protocol["config"]["identifier"] == "openconfig-policy-types:STATIC"
    statics = protocol["static-routes"]["static"]
    assert [
        (s["prefix"], s["next-hops"]["next-hop"][0]["config"]["next-hop"]) for s in statics
    ] == [
        ("10.2.2.0/24", "169.254.0.1"),
        ("10.3.3.0/24", "169.254.0.1"),
    ]
    assert await adapter.get_config() == L3.without_owners()
    # a changed next hop, a new route and a moved address: each its own node, still valid
    desired = with_address(
        with_routes(L3, ("10.2.2.0/24", "169.254.0.3"), ("10.4.0.0/16", "169.254.0.1")),
        "eth1.100",
        "10.1.1.254/24",
    )
    await commit(adapter, desired)
    assert await adapter.get_config() == desired.without_owners()
    assert await adapter.native_diff(desired) == ""
    done = yanglint([openconfig_lab_device.target.running_document()], tmp_path)
    assert done.returncode == 0, errors(done)


async def test_the_validator_refuses_a_next_hop_that_is_no_address(
    openconfig_lab_device: GnmiLabHandle,
) -> None:
    path = (
        "/network-instances/network-instance[name=vpn-a]/protocols/protocol"
        "[identifier=openconfig-policy-types:STATIC][name=STATIC]"
    )
    static = {"prefix": "10.2.2.0/24", "config": {"prefix": "10.2.2.0/24"}}
    hop = {"index": "0", "config": {"index": "0", "next-hop": "169.254.0.300"}}
    value = {
        "identifier": "openconfig-policy-types:STATIC",
        "name": "STATIC",
        "config": {"identifier": "openconfig-policy-types:STATIC", "name": "STATIC"},
        "static-routes": {"static": [{**static, "next-hops": {"next-hop": [hop]}}]},
    }
    with pytest.raises(grpc.RpcError) as refused:
        await asyncio.to_thread(raw_set, openconfig_lab_device, path, value)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "169.254.0.300" in (refused.value.details() or "")
    assert openconfig_lab_device.target.running_document() == {}
