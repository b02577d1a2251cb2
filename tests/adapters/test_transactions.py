"""Network-wide transactions against real lab devices: all devices change, or none does.

Five devices per case: all NETCONF, and (once the gNMI lab fixtures exist) three NETCONF
plus two gNMI. A failure is injected on device k, for every k, in every phase: the commit
is refused by the device itself (the lab's reject switch); the other phases fail through a
small wrapper around the real adapter, after the real call where that is the harder case.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import structlog

from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_adapters.protocol import DeviceAdapter
from intentloop_adapters.transactions import Outcome, Phase, apply_transaction
from intentloop_intents.device import DeviceConfigTree, Interface, Vlan
from intentloop_lab.netconf_device import NetconfDevice
from tests.adapters.handles import LabDeviceHandle
from tests.adapters.netconf_fixtures import NetconfLabHandle, start_device

pytestmark = pytest.mark.lab

N = 5
MIXES = ["netconf"]
if importlib.util.find_spec("tests.adapters.gnmi_fixtures") is not None:
    MIXES.append("mixed")


def base_tree(name: str) -> DeviceConfigTree:
    return DeviceConfigTree(
        interfaces=(
            Interface(name="eth1", description=f"{name} uplink", owners=frozenset({"o/a"})),
        ),
        vlans=(Vlan(vlan_id=100, name="before", owners=frozenset({"t/old"})),),
    )


def desired_tree(name: str) -> DeviceConfigTree:
    return DeviceConfigTree(
        interfaces=(
            Interface(
                name="eth1", description=f"{name} uplink", mtu=9000, owners=frozenset({"o/a"})
            ),
            Interface(name="eth2", description="new customer", owners=frozenset({"t/new"})),
        ),
        vlans=(Vlan(vlan_id=200, name="after", owners=frozenset({"t/new"})),),
    )


class FailingAdapter:
    """A real adapter that fails in one phase, the way a device or its link can."""

    def __init__(self, inner: DeviceAdapter, phase: Phase) -> None:
        self.inner = inner
        self.name = inner.name
        self.phase = phase
        self.committed = False

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def stage(self, desired: DeviceConfigTree) -> str:
        diff = await self.inner.stage(desired)  # the candidate is edited, then we "fail"
        if self.phase is Phase.STAGE:
            raise TransientDeviceError(self.name, "injected: connection lost after edit-config")
        return diff

    async def commit(self, confirm_timeout_s: int) -> None:
        await self.inner.commit(confirm_timeout_s)
        self.committed = True

    async def get_config(self) -> DeviceConfigTree:
        running = await self.inner.get_config()
        if self.phase is Phase.VERIFY and self.committed:
            raise TransientDeviceError(self.name, "injected: read-back timed out")
        return running

    async def confirm(self) -> None:
        if self.phase is Phase.CONFIRM:
            raise PermanentDeviceError(self.name, "injected: confirming commit refused")
        await self.inner.confirm()


@pytest.fixture(scope="module")
def netconf_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NetconfDevice]]:
    """Five NETCONF devices shared by this module's tests; every test sets its own base."""
    base = Path(tmp_path_factory.mktemp("tx"))
    with ThreadPoolExecutor(max_workers=N) as pool:
        devices = list(
            pool.map(lambda i: start_device(f"nc{i + 1}", base / f"nc{i + 1}"), range(N))
        )
    try:
        yield devices
    finally:
        for device in devices:
            device.stop()


@pytest.fixture(params=MIXES)
def lab(
    request: pytest.FixtureRequest, netconf_pool: list[NetconfDevice]
) -> Iterator[list[LabDeviceHandle]]:
    handles: list[LabDeviceHandle] = [NetconfLabHandle(device) for device in netconf_pool]
    if request.param == "mixed":
        handles = handles[:3] + list(request.getfixturevalue("gnmi_lab_devices")(2))
    yield handles
    for device in netconf_pool:
        device.set_reject_next_commit(False)


@pytest.fixture
async def adapters(lab: list[LabDeviceHandle]) -> AsyncIterator[list[DeviceAdapter]]:
    adapters = [handle.make_adapter() for handle in lab]
    await asyncio.gather(*(adapter.connect() for adapter in adapters))
    result = await apply_transaction(
        {a.name: (a, base_tree(a.name)) for a in adapters}, transaction_id="set-base"
    )
    assert result.outcome in (Outcome.COMMITTED, Outcome.NO_CHANGE), result.message
    try:
        yield adapters
    finally:
        await asyncio.gather(*(adapter.close() for adapter in adapters))


def desired_plan(
    adapters: Sequence[DeviceAdapter],
) -> dict[str, tuple[DeviceAdapter, DeviceConfigTree]]:
    return {a.name: (a, desired_tree(a.name)) for a in adapters}


async def running_everywhere(adapters: Sequence[DeviceAdapter]) -> dict[str, DeviceConfigTree]:
    return {a.name: await a.get_config() for a in adapters}


@pytest.mark.parametrize("k", range(N))
@pytest.mark.parametrize("phase", [Phase.STAGE, Phase.COMMIT, Phase.VERIFY, Phase.CONFIRM])
async def test_a_failure_on_any_device_in_any_phase_leaves_every_device_as_before(
    adapters: list[DeviceAdapter], lab: list[LabDeviceHandle], k: int, phase: Phase
) -> None:
    plan = desired_plan(adapters)
    victim = adapters[k]
    if phase is Phase.COMMIT:
        lab[k].reject_next_commit()
    else:
        plan[victim.name] = (FailingAdapter(victim, phase), plan[victim.name][1])

    result = await apply_transaction(plan, transaction_id=f"fail-{phase}-{k}", confirm_timeout_s=30)

    assert result.outcome is Outcome.ROLLED_BACK, result.message
    assert result.failure is not None
    assert (result.failure.device, result.failure.phase) == (victim.name, phase)
    assert result.failure.message
    assert await running_everywhere(adapters) == {
        a.name: base_tree(a.name).canonical() for a in adapters
    }


async def test_a_transaction_changes_every_device_and_reports_diffs_and_timings(
    adapters: list[DeviceAdapter],
) -> None:
    result = await apply_transaction(desired_plan(adapters), transaction_id="happy")
    assert result.outcome is Outcome.COMMITTED and result.failure is None
    for device in result.devices.values():
        assert device.changed and device.phase_reached is Phase.CONFIRM
        assert "new customer" in device.native_diff
        assert set(device.timings_ms) == {Phase.STAGE, Phase.COMMIT, Phase.VERIFY, Phase.CONFIRM}
    assert await running_everywhere(adapters) == {
        a.name: desired_tree(a.name).canonical() for a in adapters
    }


async def test_applying_the_same_plan_twice_changes_nothing_the_second_time(
    adapters: list[DeviceAdapter],
) -> None:
    first = await apply_transaction(desired_plan(adapters), transaction_id="once")
    second = await apply_transaction(desired_plan(adapters), transaction_id="twice")
    assert first.outcome is Outcome.COMMITTED
    assert second.outcome is Outcome.NO_CHANGE
    assert not any(d.changed or Phase.COMMIT in d.timings_ms for d in second.devices.values())


async def test_a_dry_run_shows_each_devices_diff_and_changes_nothing(
    adapters: list[DeviceAdapter],
) -> None:
    result = await apply_transaction(desired_plan(adapters), transaction_id="dry", dry_run=True)
    assert result.outcome is Outcome.DRY_RUN
    assert all("new customer" in d.native_diff for d in result.devices.values())
    assert await running_everywhere(adapters) == {
        a.name: base_tree(a.name).canonical() for a in adapters
    }


async def test_devices_already_as_desired_are_left_alone_even_when_another_fails(
    adapters: list[DeviceAdapter], lab: list[LabDeviceHandle]
) -> None:
    plan = desired_plan(adapters)
    for adapter in adapters[:2]:
        plan[adapter.name] = (adapter, base_tree(adapter.name))  # no change for these two
    lab[4].reject_next_commit()
    result = await apply_transaction(plan, transaction_id="partial")
    assert result.outcome is Outcome.ROLLED_BACK
    for adapter in adapters[:2]:
        untouched = result.devices[adapter.name]
        assert not untouched.changed and not untouched.rolled_back
        assert set(untouched.timings_ms) == {Phase.STAGE}
    assert all(result.devices[a.name].rolled_back for a in adapters[2:])


class CountingAdapter(FailingAdapter):
    """Counts how many devices are inside `stage` at the same time."""

    inside = 0
    most = 0

    async def stage(self, desired: DeviceConfigTree) -> str:
        CountingAdapter.inside += 1
        CountingAdapter.most = max(CountingAdapter.most, CountingAdapter.inside)
        try:
            return await self.inner.stage(desired)
        finally:
            CountingAdapter.inside -= 1


async def test_parallelism_bounds_how_many_devices_are_worked_on_at_once(
    adapters: list[DeviceAdapter],
) -> None:
    CountingAdapter.inside = CountingAdapter.most = 0
    plan = {a.name: (CountingAdapter(a, Phase.ROLLBACK), desired_tree(a.name)) for a in adapters}
    result = await apply_transaction(plan, transaction_id="bounded", parallelism=2)
    assert result.outcome is Outcome.COMMITTED
    assert CountingAdapter.most == 2


async def test_every_log_line_of_a_transaction_names_it(adapters: list[DeviceAdapter]) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as lines:
        await apply_transaction(desired_plan(adapters), transaction_id="traced")
    assert lines and all(line.get("transaction") == "traced" for line in lines)
