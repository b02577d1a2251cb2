"""Drift: a device's running configuration compared with its DeviceConfig, periodically.

Under the device's lock (so never in the middle of a transaction) the running config of
intentloop's subtree is read and compared item by item with the composed desired tree.
`driftPolicy: repair` puts the device back through the change pipeline every change takes
(`changes.repair`: a Transaction record in the operator's namespace) and counts it;
`report` leaves the device alone, raises a drift alarm and lists the deviations in the
DeviceConfig's status. Comparison is on content, never on commit ids or timestamps.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from intentloop_adapters import transactions as tx
from intentloop_adapters.errors import DeviceError
from intentloop_intents import drift
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources import GROUP, VERSION
from intentloop_operator import changes, kube, logs, metrics
from intentloop_operator.runtime import Runtime
from intentloop_operator.sessions import SessionPool

INTERVAL_S = float(os.environ.get("INTENTLOOP_DRIFT_INTERVAL", "10"))
# The drift result this process last read from or wrote to each DeviceConfig's status (the
# drift check is that status's only writer): a check that finds the same needs no GET of
# the whole object, which grows with the device. A new process reads each one once.
_recorded: dict[str, dict[str, Any]] = {}
IGNORED_LEAVES: tuple[str, ...] = ()  # leaves a device stores hashed or secret: never compared
MAX_SHOWN = 20

log = logs.get("intentloop.drift")


async def check(rt: Runtime, pool: SessionPool, name: str) -> dict[str, Any] | None:
    """Compare and act; returns the Device status fields to write (None: not checked)."""
    spec = rt.devices.get(name)
    if spec is None:
        return None
    async with rt.lock(name):
        desired = rt.desired.get(name, DeviceConfigTree())
        try:
            adapter = await pool.get(name, spec)
            running = await adapter.get_config()
        except DeviceError:
            await pool.drop(name)
            return None  # unreachable: the device controller reports that
        metrics.FRESHNESS.seen("drift", name, INTERVAL_S)  # checked, recorded or not
        found = drift.deviations(desired, running, ignore=IGNORED_LEAVES)
        if not found:
            rt.drift.pop(name, None)
            if name in rt.desired:  # else no DeviceConfig exists to record it on
                await _record(name, [], repaired=False)
            return {"inSync": True}
        if spec.drift_policy == "repair":
            return await _repair(rt, pool, name, desired, found)
    summary = "; ".join(f"{d.path}: {d.actual}" for d in found[:3])
    rt.drift[name] = f"{len(found)} deviation(s): {summary}"[:1000]
    rt.wake.set()
    if name in rt.desired:
        await _record(name, found, repaired=False)
    log.warning("drift.reported", device=name, deviations=len(found))
    return {"inSync": False}


async def _repair(
    rt: Runtime, pool: SessionPool, name: str, desired: DeviceConfigTree, found: list[Any]
) -> dict[str, Any]:
    applied = await changes.repair(rt, pool, name, desired, len(found))
    if applied.result.outcome is not tx.Outcome.COMMITTED:
        rt.drift[name] = f"repair failed: {applied.reason()}"[:1000]
        rt.wake.set()
        return {"inSync": False}
    rt.drift.pop(name, None)
    metrics.DRIFT_REPAIRS.inc()
    await _record(name, found, repaired=True, transaction=applied.transaction_name)
    log.info(
        "drift.repaired",
        device=name,
        deviations=len(found),
        transaction=applied.transaction_name,
    )
    return {"inSync": True}


async def _record(
    name: str, found: list[Any], *, repaired: bool, transaction: str | None = None
) -> None:
    """The check's result in the DeviceConfig's status — only when it differs from what
    the status says already (a repair always does): a device that stays in sync, or keeps
    the same deviations, writes nothing and posts no Event; `lastChecked` is written with a
    change, and how recently every device was checked is a metric (`metrics.FRESHNESS`)."""
    status: dict[str, Any] = {
        "inSync": repaired or not found,
        "deviations": [
            {"path": d.path[:1024], "intended": d.intended[:1024], "actual": d.actual[:1024]}
            for d in ([] if repaired else found[:MAX_SHOWN])
        ],
    }
    if not repaired and _recorded.get(name) == status:
        return  # as this process last read or wrote it: no read of the whole object
    existing = await kube.get_object("deviceconfigs", name)
    if existing is None:
        _recorded.pop(name, None)
        return
    current = existing.get("status") or {}
    if not repaired and all(
        current.get(k, [] if k == "deviations" else None) == v for k, v in status.items()
    ):
        _recorded[name] = status
        return
    status["lastChecked"] = datetime.now(UTC).isoformat()
    if repaired:
        status["repairs"] = int((existing.get("status") or {}).get("repairs", 0)) + 1
        status["lastAppliedTransaction"] = (transaction or "")[:64]
        kopf.event(
            kopf.Body(cast(Any, existing)),
            type="Normal",
            reason="DriftRepaired",
            message=f"{len(found)} deviation(s) put back: " + "; ".join(d.path for d in found[:5]),
        )
    elif found:
        kopf.event(
            kopf.Body(cast(Any, existing)),
            type="Warning",
            reason="DriftDetected",
            message="; ".join(f"{d.path}: {d.actual}" for d in found[:5]),
        )
    await kube.patch_object("deviceconfigs", name, {"status": status}, status=True)
    _recorded[name] = {k: status[k] for k in ("inSync", "deviations")}


@kopf.timer(
    GROUP, VERSION, "devices", id="device-drift", interval=INTERVAL_S, initial_delay=INTERVAL_S
)
async def device_drift(
    name: str, body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any
) -> None:
    metrics.FRESHNESS.known("drift", name, INTERVAL_S)
    fields = await check(memo.runtime, memo.sessions, name)
    if fields is not None and any(body.status.get(k) != v for k, v in fields.items()):
        patch.status.update(fields)  # the Device's inSync, written when it flips
