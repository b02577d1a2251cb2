"""A lab router without gNMI: its telemetry arrives as NETCONF notifications, for real.

The lab daemon runs a NETCONF router (netconfd behind sshd and the lab's relay) with
`telemetry: netconf` beside an ordinary gNMI router; faults go through the daemon's control
socket exactly as `intentloop lab link ...` sends them, and the updates are read through
the same adapter the operator's telemetry loop gets for such a device.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import yaml

from intentloop_adapters import factory
from intentloop_adapters.netconf import NetconfAdapter
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_lab import control, inventory, labstate, lifecycle

pytestmark = pytest.mark.lab

TOPOLOGY = """
name: nc-telemetry
routers:
  - {name: n1, platform: netconf, telemetry: netconf, ports: [eth1]}
  - {name: g1, platform: gnmi, ports: [eth1]}
links:
  - {a: n1, b: g1, capacityMbps: 100, latencyMs: 2}
"""
PATHS = (  # what the operator's telemetry loop subscribes to
    "/interfaces/interface[name=*]/state/oper-status",
    "/interfaces/interface[name=*]/state/latency-ms",
    "/interfaces/interface[name=*]/state/out-rate-mbps",
)
CORE_OPER = "/interfaces/interface[name=core-g1]/state/oper-status"
CORE_LATENCY = "/interfaces/interface[name=core-g1]/state/latency-ms"
PORT_LATENCY = "/interfaces/interface[name=eth1]/state/latency-ms"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labstate.LabState]:
    tmp = tmp_path_factory.mktemp("nclab")
    (tmp / "topology.yaml").write_text(TOPOLOGY)
    lifecycle.start(tmp / "state", tmp / "topology.yaml")
    try:
        state = labstate.read_state(tmp / "state")
        assert state is not None
        yield state
    finally:
        lifecycle.stop(tmp / "state")


def adapter_for(lab: labstate.LabState, name: str) -> NetconfAdapter:
    access = lab.router(name).netconf
    assert access is not None
    return NetconfAdapter(
        name=name,
        host=lab.address,
        port=access.port,
        username=access.username,
        private_key=access.private_key_file.read_text(),
        known_host_key=access.host_key,
    )


class Received:
    """Every update of one subscription, with its arrival time, read in the background."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, TelemetryUpdate]] = []

    def after(self, moment: float, path: str) -> list[tuple[float, TelemetryUpdate]]:
        return [(t, u) for t, u in self.updates if t >= moment and u.path == path]

    async def wait(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; last: {self.updates[-3:]}"
            await asyncio.sleep(0.01)


@pytest.fixture
async def received(lab: labstate.LabState) -> AsyncIterator[Received]:
    seen = Received()
    adapter = adapter_for(lab, "n1")

    async def read() -> None:
        async for update in adapter.subscribe(PATHS):
            seen.updates.append((time.monotonic(), update))

    task = asyncio.create_task(read())
    try:
        await seen.wait(lambda: seen.after(0, CORE_OPER))  # subscribed, first sample in
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await adapter.close()


def call(lab: labstate.LabState, request: control.AnyRequest) -> float:
    """Send a fault to the lab daemon; returns when it was applied (it answers after)."""
    control.call(lab.socket, request)
    return time.monotonic()


async def test_a_router_without_gnmi_is_inventoried_as_a_netconf_only_device(
    lab: labstate.LabState,
) -> None:
    n1 = lab.router("n1")
    assert n1.gnmi is None and n1.netconf is not None
    assert lab.router("g1").gnmi is not None
    docs = list(yaml.safe_load_all(inventory.render(lab)))
    specs = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Device"}
    assert "gnmi" not in specs["n1"] and "netconf" in specs["n1"]
    creds = factory.Credentials(
        netconf_username=n1.netconf.username,
        netconf_private_key=n1.netconf.private_key_file.read_text(),
    )
    adapter = factory.telemetry_adapter("n1", DeviceSpec.model_validate(specs["n1"]), creds)
    assert isinstance(adapter, NetconfAdapter)
    try:
        assert (await adapter.capabilities()).notifications
    finally:
        await adapter.close()


async def test_a_failed_link_arrives_as_oper_status_down_within_a_second(
    lab: labstate.LabState, received: Received
) -> None:
    assert received.after(0, CORE_OPER)[-1][1].value == "UP"
    # measured by probes across the link: the nominal delay plus the wire's microseconds
    assert received.after(0, CORE_LATENCY)[-1][1].value == pytest.approx(2.0, abs=0.5)
    failed = call(lab, control.LinkAdmin(a="g1", b="n1", up=False))
    try:
        await received.wait(lambda: [u for _, u in received.after(failed, CORE_OPER)])
        arrived, update = received.after(failed, CORE_OPER)[0]
        assert update.value == "DOWN"
        assert arrived - failed < 1.0, f"DOWN arrived {arrived - failed:.3f}s after the fault"
        assert update.timestamp_ns / 1e9 == pytest.approx(time.time(), abs=2)
    finally:
        repaired = call(lab, control.LinkAdmin(a="n1", b="g1", up=True))
    await received.wait(
        lambda: any(u.value == "UP" for _, u in received.after(repaired, CORE_OPER))
    )


async def test_samples_of_every_interface_arrive_each_second_and_follow_latency(
    lab: labstate.LabState, received: Received
) -> None:
    start = time.monotonic()
    # eth1 never changes: every update of it is a periodic sample.
    await received.wait(lambda: len(received.after(start, PORT_LATENCY)) >= 3, timeout=6)
    times = [t for t, _ in received.after(start, PORT_LATENCY)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.3 < gap < 3.0 for gap in gaps), gaps  # about one a second, never a burst
    slowed = call(lab, control.LinkLatency(a="n1", b="g1", extra_ms=20))
    try:
        await received.wait(
            lambda: any(abs(u.value - 22.0) < 0.5 for _, u in received.after(slowed, CORE_LATENCY))
        )
    finally:
        call(lab, control.LinkLatency(a="n1", b="g1", extra_ms=0))
