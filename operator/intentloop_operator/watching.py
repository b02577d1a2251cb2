"""Keep the operator's topology current from watch events, after one full load at start.

The load happens in a start-up handler, before any resource handler runs, so no service
is ever routed on a half-known topology; afterwards only the changed object is applied.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import kopf

from intentloop_intents.resources import GROUP, VERSION
from intentloop_operator import (
    alarming,
    assurance,
    batching,
    collectors,
    desired,
    healing,
    kube,
    logs,
    metrics,
    ports,
    resumption,
    telemetry,
)
from intentloop_operator.runtime import Runtime
from intentloop_operator.sessions import SessionPool

log = logs.get("intentloop.watching")


@kopf.on.startup(id="load-runtime")
async def load_runtime(memo: kopf.Memo, **_: Any) -> None:
    plurals = ("devices", "links", "deviceconfigs", "networkslices", "networkservices")
    lists = await asyncio.gather(*(kube.list_objects(p) for p in plurals))
    rt = Runtime()
    rt.load(
        devices=lists[0],
        links=lists[1],
        device_configs=lists[2],
        slices=lists[3],
        services=lists[4],
    )
    ports.load(rt, await kube.list_objects("portassignments"))
    memo.runtime = rt
    memo.sessions = SessionPool()
    await alarming.load(rt)
    memo.stop = asyncio.Event()
    memo.batcher = batching.Batcher(rt, memo.sessions)
    loop = assurance.Assurance(rt, memo.batcher)
    count = collectors.from_environment(os.environ.get("INTENTLOOP_COLLECTORS"))
    memo.collectors = None
    if count:  # telemetry decoded in N processes; else in this one (see `telemetry`)
        memo.collectors = collectors.CollectorPool(
            count, apply=functools.partial(telemetry.ingest_batch, rt)
        )
        memo.collectors.start()
    memo.background = [
        asyncio.create_task(memo.batcher.run(memo.stop), name="batcher"),
        asyncio.create_task(loop.run(memo.stop), name="assurance"),
        asyncio.create_task(telemetry.link_status_writer(rt, memo.stop), name="link-status"),
        asyncio.create_task(desired.follow(rt, memo.stop), name="follow-deviceconfigs"),
        asyncio.create_task(healing.run(rt, memo.batcher, memo.stop), name="healing"),
        asyncio.create_task(
            resumption.announce_ready(rt.resumption, metrics.mark_ready, memo.stop), name="ready"
        ),
    ]
    log.info("runtime.loaded", devices=len(lists[0]), links=len(lists[1]), services=len(lists[4]))


@kopf.on.cleanup(id="close-sessions")
async def close_sessions(memo: kopf.Memo, **_: Any) -> None:
    stop: asyncio.Event | None = getattr(memo, "stop", None)
    if stop is not None:
        stop.set()
        await asyncio.gather(*memo.background, return_exceptions=True)
    sessions: SessionPool | None = getattr(memo, "sessions", None)
    if sessions is not None:
        await sessions.close_all()
    pool: collectors.CollectorPool | None = getattr(memo, "collectors", None)
    if pool is not None:
        await pool.close()


@kopf.on.event(GROUP, VERSION, "devices", id="topology-devices")
async def device_event(type: str, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt: Runtime = memo.runtime
    if type == "DELETED":
        rt.remove_device(name)
        await memo.sessions.drop(name)
        metrics.FRESHNESS.forget(name)  # a gone device is not a stale one
        rt.waiting.nudge()
    else:
        if body.metadata.get("deletionTimestamp"):
            metrics.FRESHNESS.forget(name)  # on its way out: its checks have stopped
        else:
            metrics.FRESHNESS.track(name)
        before = rt.devices.get(name)
        rt.upsert_device(name, dict(body.spec), dict(body.status))
        if before != rt.devices.get(name):  # new, or its spec changed
            rt.waiting.nudge()
        if before is not None and before != rt.devices.get(name):
            await memo.sessions.drop(name)


@kopf.on.event(GROUP, VERSION, "links", id="topology-links")
async def link_event(type: str, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt: Runtime = memo.runtime
    before = rt.topology.link(name)
    if type == "DELETED":
        rt.remove_link(name)
    else:
        rt.upsert_link(name, dict(body.spec), dict(body.status))
    after = rt.topology.link(name)
    if after is not None and (before is None or before.spec != after.spec):
        healing.recheck_ports(rt, {after.spec.a, after.spec.b})  # it may take a customer port
    if (before is None) != (after is None) or (before and after and before.spec != after.spec):
        rt.waiting.nudge()  # added, removed or re-declared (not a status write)


@kopf.on.event(GROUP, VERSION, "resourcepools", id="inventory-pools")
async def pool_event(memo: kopf.Memo, **_: Any) -> None:
    """A pool appeared, changed or went: allocations read pools afresh, waiting services
    (no pool yet, a requested VLAN outside every pool) are looked at again."""
    rt: Runtime = memo.runtime
    rt.allocations.forget_pools()
    rt.waiting.nudge()
