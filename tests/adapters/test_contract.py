"""What every adapter promises, checked against a real lab device of each kind.

The transaction engine and the operator only see `DeviceAdapter`; these are the behaviours
they rely on, so each test runs once per kind of lab device and platform profile (NETCONF,
gNMI with the intentloop model, gNMI with OpenConfig). "Exactly what was applied" is what
the device can hold (`held_by`): an OpenConfig router has no place for owners.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from intentloop_adapters.errors import DeviceError, PermanentDeviceError
from intentloop_adapters.protocol import DeviceAdapter, TelemetryUpdate, held_by
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan, Vrf
from tests.adapters.handles import LabDeviceHandle
from tests.unit.device.l3_trees import L3, with_address, with_routes

pytestmark = pytest.mark.lab

BASE = DeviceConfigTree(
    interfaces=(
        Interface(name="eth1", description="to core", mtu=9000, owners=frozenset({"ops/core"})),
        Interface(name="eth2", description="customer A", owners=frozenset({"t1/svc-a"})),
    ),
    vlans=(Vlan(vlan_id=100, name="svc-a", owners=frozenset({"t1/svc-a"})),),
)
CHANGED = DeviceConfigTree(
    interfaces=(
        Interface(name="eth1", description="to core", mtu=1500, owners=frozenset({"ops/core"})),
        Interface(
            name="eth2",
            enabled=False,
            description="customer A (moved)",
            owners=frozenset({"t1/svc-a", "t2/svc-b"}),
        ),
    ),
    vlans=(Vlan(vlan_id=200, name="svc-b", owners=frozenset({"t2/svc-b"})),),
    policers=(Policer(name="svc-b-10m", rate_mbps=10, owners=frozenset({"t2/svc-b"})),),
    vrfs=(Vrf(name="blue", route_target="65000:200", owners=frozenset({"t2/svc-b"})),),
    subinterfaces=(
        SubInterface(
            parent="eth2",
            vlan_id=200,
            vrf="blue",
            policer="svc-b-10m",
            owners=frozenset({"t2/svc-b"}),
        ),
    ),
)
# What each kind of lab device reports when its handle's trigger_change() runs.
SUBSCRIPTION_PATHS = {
    "netconf": ["/intentloop-device:device"],
    "gnmi": ["/interfaces/interface/state/oper-status"],
    "openconfig": ["/interfaces/interface/state/oper-status"],
}
# netconfd runs its confirmed-commit timer only after ~1 s without requests: poll slower.
EXPIRY_POLL_S = 1.5


@pytest.fixture
def lab_device(request: pytest.FixtureRequest, adapter_kind: str) -> LabDeviceHandle:
    handle: LabDeviceHandle = request.getfixturevalue(f"{adapter_kind}_lab_device")
    return handle


@pytest.fixture
async def adapter(lab_device: LabDeviceHandle) -> AsyncIterator[DeviceAdapter]:
    adapter = lab_device.make_adapter()
    await adapter.connect()
    try:
        yield adapter
    finally:
        await adapter.close()


async def apply(adapter: DeviceAdapter, tree: DeviceConfigTree) -> str:
    diff = await adapter.stage(tree)
    await adapter.commit(confirm_timeout_s=60)
    await adapter.confirm()
    return diff


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float, interval_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval_s)
    return await check()


async def test_get_config_returns_exactly_what_was_applied(adapter: DeviceAdapter) -> None:
    await apply(adapter, CHANGED)
    assert await adapter.get_config() == held_by(adapter, CHANGED)


async def test_applying_the_same_tree_twice_changes_nothing_the_second_time(
    adapter: DeviceAdapter,
) -> None:
    assert await apply(adapter, BASE) != ""
    assert await apply(adapter, BASE) == ""
    assert await adapter.get_config() == held_by(adapter, BASE)


async def test_native_diff_shows_a_change_and_is_empty_when_equal(
    adapter: DeviceAdapter,
) -> None:
    await apply(adapter, BASE)
    diff = await adapter.native_diff(CHANGED)
    assert "svc-b" in diff  # the new VLAN's name appears in the device's own language
    assert await adapter.native_diff(BASE) == ""
    assert await adapter.get_config() == held_by(adapter, BASE)  # a diff changes nothing


async def test_rollback_after_stage_leaves_running_untouched_and_the_device_usable(
    adapter: DeviceAdapter,
) -> None:
    await apply(adapter, BASE)
    await adapter.stage(CHANGED)
    await adapter.rollback()
    assert await adapter.get_config() == held_by(adapter, BASE)
    await apply(adapter, CHANGED)  # nothing left locked or half-staged
    assert await adapter.get_config() == held_by(adapter, CHANGED)


async def test_rollback_after_commit_restores_the_previous_config(
    adapter: DeviceAdapter,
) -> None:
    await apply(adapter, BASE)
    await adapter.stage(CHANGED)
    await adapter.commit(confirm_timeout_s=60)
    assert await adapter.get_config() == held_by(adapter, CHANGED)
    await adapter.rollback()
    assert await adapter.get_config() == held_by(adapter, BASE)


async def test_rollback_after_confirm_restores_the_previous_config(
    adapter: DeviceAdapter,
) -> None:
    """What a transaction does when another device fails to confirm after this one did."""
    await apply(adapter, BASE)
    await apply(adapter, CHANGED)
    await adapter.rollback()
    assert await adapter.get_config() == held_by(adapter, BASE)
    await adapter.rollback()  # idempotent
    assert await adapter.get_config() == held_by(adapter, BASE)


async def test_an_unconfirmed_commit_expires_and_the_device_restores_the_previous_config(
    adapter: DeviceAdapter,
) -> None:
    await apply(adapter, BASE)
    await adapter.stage(CHANGED)
    await adapter.commit(confirm_timeout_s=2)
    assert await adapter.get_config() == held_by(adapter, CHANGED)

    async def restored() -> bool:
        return await adapter.get_config() == held_by(adapter, BASE)

    assert await wait_until(restored, timeout_s=15, interval_s=EXPIRY_POLL_S)


def refused_tree(adapter_kind: str) -> tuple[DeviceConfigTree, str]:
    """A tree with one value the device's schema refuses, and the node its message names.

    model_construct skips our own validation so that the device, not the model, refuses
    it: mtu 10 is below intentloop-device's range 68..9216; OpenConfig's mtu has no range,
    but its vlan-id is 1..4094."""
    if adapter_kind == "openconfig":
        vlan = Vlan.model_construct(vlan_id=5000, name="svc-x", owners=frozenset({"t1/svc-x"}))
        return BASE.model_construct(**{**dict(BASE), "vlans": (*BASE.vlans, vlan)}), "vlan-id"
    bad = Interface.model_construct(
        name="eth1", enabled=True, description="to core", mtu=10, owners=frozenset({"ops/core"})
    )
    tree = DeviceConfigTree.model_construct(
        interfaces=(bad, BASE.interfaces[1]),
        vlans=BASE.vlans,
        policers=(),
        vrfs=(),
        subinterfaces=(),
    )
    return tree, "mtu"


async def test_a_value_the_device_refuses_raises_permanent_error_with_its_message(
    adapter: DeviceAdapter, lab_device: LabDeviceHandle, adapter_kind: str
) -> None:
    await apply(adapter, BASE)
    tree, node = refused_tree(adapter_kind)
    with pytest.raises(PermanentDeviceError) as refused:
        await adapter.stage(tree)
        await adapter.commit(confirm_timeout_s=60)
    await adapter.rollback()
    assert refused.value.device == lab_device.name
    assert node in refused.value.device_message.lower()
    assert await adapter.get_config() == held_by(adapter, BASE)


async def test_a_refused_commit_raises_and_rollback_restores(
    adapter: DeviceAdapter, lab_device: LabDeviceHandle
) -> None:
    await apply(adapter, BASE)
    await adapter.stage(CHANGED)
    lab_device.reject_next_commit()
    with pytest.raises(DeviceError) as refused:
        await adapter.commit(confirm_timeout_s=60)
    assert refused.value.device_message
    await adapter.rollback()
    assert await adapter.get_config() == held_by(adapter, BASE)


async def test_a_subscription_sees_a_change_within_one_second(
    adapter: DeviceAdapter, lab_device: LabDeviceHandle, adapter_kind: str
) -> None:
    stream = adapter.subscribe(SUBSCRIPTION_PATHS[adapter_kind]).__aiter__()

    async def next_change() -> TelemetryUpdate:
        async for update in stream:
            if not update.sync:
                return update
        raise AssertionError("subscription ended")

    try:
        async with asyncio.timeout(10):
            while not (await anext(stream)).sync:
                pass
        await asyncio.to_thread(lab_device.trigger_change)
        update = await asyncio.wait_for(next_change(), timeout=1.0)
        assert update.device == lab_device.name
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_read_back_after_a_commit_takes_the_shortcut_and_still_sees_tampering(
    adapter: DeviceAdapter, lab_device: LabDeviceHandle
) -> None:
    """After a verified change the adapter skips rebuilding the model (the reply matches
    what was staged, then it is the same bytes), yet a change made behind its back is
    read exactly as it is."""
    await apply(adapter, BASE)
    reads = adapter._reads  # type: ignore[attr-defined]
    parses = reads.parses
    await apply(adapter, CHANGED)
    assert await adapter.get_config() == held_by(adapter, CHANGED)  # the staged tree: a match
    assert await adapter.get_config() == held_by(adapter, CHANGED)  # same reply: a hit
    assert reads.matches >= 1 and reads.hits >= 1
    assert reads.parses - parses <= 1  # only the stage's read of BASE may have been parsed
    lab_device.tamper()
    running = await adapter.get_config()
    assert running != held_by(adapter, CHANGED)
    fresh = lab_device.make_adapter()  # no cache at all: the same answer
    await fresh.connect()
    try:
        assert await fresh.get_config() == running
    finally:
        await fresh.close()


async def test_an_l3vpn_site_with_addresses_and_static_routes_is_pushed_and_read_back(
    adapter: DeviceAdapter,
) -> None:
    """Routed sub-interfaces and a VRF's static routes land as written, and each later
    change (a route's next hop, a route gone, one added, an address moved) lands exactly."""
    assert await apply(adapter, L3) != ""
    assert await adapter.get_config() == held_by(adapter, L3)
    assert await adapter.native_diff(L3) == ""
    steps = [
        with_routes(L3, ("10.2.2.0/24", "169.254.0.1"), ("10.4.0.0/16", "169.254.0.1")),
        with_address(with_routes(L3, ("10.2.2.0/24", "169.254.0.3")), "eth1.100", "10.1.1.254/24"),
        with_address(with_routes(L3), "eth2.7", None),
        L3,
    ]
    for step, desired in enumerate(steps):
        diff = await apply(adapter, desired)
        assert diff != "", f"step {step}"
        assert await adapter.get_config() == held_by(adapter, desired), f"step {step}"
        assert await adapter.native_diff(desired) == "", f"step {step}"
    await apply(adapter, DeviceConfigTree())
    assert await adapter.get_config() == DeviceConfigTree()
