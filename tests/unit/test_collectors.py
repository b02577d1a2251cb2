"""Telemetry collector processes: devices split across them, updates into the Runtime.

Real processes (spawned as the operator spawns them) run a scripted telemetry source
(`collector_fakes`) in place of devices; everything between the source and the Runtime —
pipes, coalescing, batches, restarts, shutdown — is the product's own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from intentloop_adapters.errors import TransientDeviceError
from intentloop_intents import topology as topo
from intentloop_operator import collectors, metrics, telemetry
from intentloop_operator.collector_process import OutboxSettings, Update
from intentloop_operator.runtime import Runtime
from tests.unit import collector_fakes as fakes

REPO = Path(__file__).resolve().parents[2]
PATHS = telemetry.PATHS


def gone(pid: int) -> bool:
    """The process ended (a zombie waiting for a reaper counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)
    return value


class Received:
    """The operator side: every batch kept, and applied to a real Runtime."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.batches: list[list[Update]] = []
        self.delay_s = delay_s
        self.rt = Runtime()
        for d in ("d1", "d2"):
            self.rt.topology.upsert_device(d, reachable=True)
        link = topo.LinkSpec(
            name="d1-d2",
            a=topo.Endpoint("d1", "eth1"),
            b=topo.Endpoint("d2", "eth1"),
            capacity_mbps=1000,
            latency_ms=1.0,
        )
        self.rt.topology.upsert_link(link, oper_up=True)

    def __call__(self, updates: list[Update]) -> None:
        self.batches.append(updates)
        telemetry.ingest_batch(self.rt, updates)
        if self.delay_s:
            time.sleep(self.delay_s)  # an operator whose loop is busy elsewhere

    def values(self, device: str, path: str) -> list[Any]:
        return [v for batch in self.batches for d, p, v, _ in batch if (d, p) == (device, path)]


@pytest.fixture
async def pool_of() -> AsyncIterator[Callable[..., collectors.CollectorPool]]:
    pools: list[collectors.CollectorPool] = []

    def make(size: int, apply: Received, **settings: Any) -> collectors.CollectorPool:
        pool = collectors.CollectorPool(
            size,
            apply=apply,
            adapter_factory=fakes.FACTORY,
            settings=OutboxSettings(**settings) if settings else None,
        )
        pool.start()
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def stream(pool: collectors.CollectorPool, device: str, script: str) -> asyncio.Task[None]:
    return asyncio.create_task(
        pool.stream(device, fakes.device(script), fakes.credentials(), PATHS)
    )


def test_devices_keep_their_collector_and_a_new_collector_takes_only_its_share() -> None:
    devices = [f"router-{i}" for i in range(2000)]
    three = {d: collectors.assign(d, 3) for d in devices}
    four = {d: collectors.assign(d, 4) for d in devices}
    moved = [d for d in devices if three[d] != four[d]]
    assert all(four[d] == 3 for d in moved)  # only to the new collector, never between old ones
    assert 0.18 < len(moved) / len(devices) < 0.32
    assert min(Counter(four.values()).values()) > 0.2 * len(devices)
    # The same in another interpreter with another hash seed: nothing depends on the process.
    code = "from intentloop_operator import collectors as c; print(c.assign('router-7', 4))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": "operator:intents:adapters"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == four["router-7"]


async def test_a_link_flap_reaches_the_runtime_in_order_and_the_last_value_wins(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = pool_of(2, received)
    task = stream(pool, "d1", "flap:1000")
    assert received.rt.topology.link("d1-d2").oper_up is True  # type: ignore[union-attr]
    await until(lambda: (s := received.rt.topology.link("d1-d2")) and s.oper_up is False)
    seen = received.values("d1", fakes.OPER)
    assert seen[-1] == "DOWN"
    assert len(seen) < 1000  # coalesced on the way, not shipped one by one
    assert all(len({p for _, p, _, _ in b}) == len(b) for b in received.batches)  # once per batch
    assert received.rt.links_dirty == {"d1-d2"}  # and marked for the Link status writer
    task.cancel()


async def test_what_a_device_sent_before_it_ended_is_applied_before_the_attempt_ends(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = pool_of(1, received)
    assert await asyncio.wait_for(stream(pool, "d1", "burst:5000"), 20) is None
    assert received.values("d1", fakes.LATENCY)[-1] == 4999.0
    assert received.rt.topology.link("d1-d2").measured_latency_ms == 4999.0  # type: ignore[union-attr]


async def test_an_attempt_ends_the_way_the_device_ended_it(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    pool = pool_of(2, Received())
    with pytest.raises(TransientDeviceError, match="d1: stream reset by peer"):
        await asyncio.wait_for(stream(pool, "d1", "break:"), 20)
    with pytest.raises(TransientDeviceError, match="d2: connection refused"):
        await asyncio.wait_for(stream(pool, "d2", "refuse:"), 20)
    assert await asyncio.wait_for(stream(pool, "d3", "end:"), 20) is None


async def test_a_stopped_stream_stops_in_its_collector(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = pool_of(1, received)
    task = stream(pool, "d1", "ticker:5")
    await until(lambda: len(received.values("d1", fakes.LATENCY)) > 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    before = len(received.values("d1", fakes.LATENCY))
    await asyncio.sleep(0.5)
    assert len(received.values("d1", fakes.LATENCY)) == before


async def test_a_killed_collector_is_restarted_and_its_devices_stream_again(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = pool_of(2, received)
    index = collectors.assign("d1", 2)
    task = stream(pool, "d1", "ticker:10")
    await until(lambda: received.values("d1", fakes.LATENCY))
    victim = pool.pids()[index]
    assert victim is not None
    restarts = metrics.COLLECTOR_RESTARTS._value.get()
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(collectors.CollectorLost):
        await asyncio.wait_for(task, 10)
    replacement = await until(lambda: (p := pool.pids()[index]) not in (None, victim) and p)
    assert metrics.COLLECTOR_RESTARTS._value.get() == restarts + 1
    # What the per-device daemon does next: a new attempt, which lands on the new collector.
    count = len(received.values("d1", fakes.LATENCY))
    task = stream(pool, "d1", "ticker:10")
    await until(lambda: len(received.values("d1", fakes.LATENCY)) > count + 3)
    assert not gone(replacement) and gone(victim)
    task.cancel()


async def test_credentials_reach_the_collector_only_through_its_pipe(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = pool_of(1, received)
    task = stream(pool, "d1", "ticker:10")
    await until(lambda: received.values("d1", fakes.LATENCY))  # the fake checked the password
    (pid,) = pool.pids()
    for view in ("cmdline", "environ"):
        assert fakes.PASSWORD.encode() not in Path(f"/proc/{pid}/{view}").read_bytes()
    task.cancel()


async def test_memory_stays_bounded_when_the_operator_reads_slowly(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received(delay_s=0.2)
    pool = pool_of(1, received, linger_s=0.01, max_pending=2000)
    task = stream(pool, "d1", "flood:")
    (pid,) = pool.pids()
    assert pid is not None
    await until(lambda: len(received.batches) >= 3, timeout=20)
    start = rss_mib(pid)
    await asyncio.sleep(4)
    grown = rss_mib(pid) - start
    # The source would produce millions of distinct paths in this time (hundreds of MB if
    # queued); the collector holds at most `max_pending` of them and waits.
    assert grown < 20, f"collector grew by {grown:.1f} MiB"
    assert max(len(b) for b in received.batches) <= 2000
    task.cancel()


async def test_closing_the_pool_ends_every_collector_and_every_stream(
    pool_of: Callable[..., collectors.CollectorPool],
) -> None:
    received = Received()
    pool = collectors.CollectorPool(2, apply=received, adapter_factory=fakes.FACTORY)
    pool.start()
    tasks = [stream(pool, f"d{i}", "ticker:10") for i in range(6)]
    await until(lambda: len({d for b in received.batches for d, *_ in b}) == 6)
    pids = [p for p in pool.pids() if p is not None]
    await pool.close()
    assert all(gone(p) for p in pids)
    for task in tasks:
        with pytest.raises(collectors.CollectorLost):
            await task
    with pytest.raises(collectors.CollectorLost):
        await stream(pool, "d1", "ticker:10")


def test_collectors_exit_when_the_operator_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["operator", "intents", "adapters", "."])}
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.collector_fakes"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
        parent.kill()  # SIGKILL: no clean-up code runs in the operator
        parent.wait()
        deadline = time.monotonic() + 10
        while not all(gone(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(gone(p) for p in pids), "a collector outlived its operator"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()


def test_the_number_of_collectors_comes_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from intentloop_operator import cli

    monkeypatch.setenv("INTENTLOOP_COLLECTORS", "3")
    assert cli.build_parser().parse_args(["operator"]).collectors == 3
    assert cli.build_parser().parse_args(["operator", "--collectors", "0"]).collectors == 0
    assert collectors.from_environment(None) == 0
    with pytest.raises(ValueError, match="0 or more"):
        collectors.from_environment("-1")
