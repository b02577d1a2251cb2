"""Apply one intent's contribution to the devices it touches, all-or-nothing.

The desired configuration of a device is the merge of every intent's contribution
(`DeviceConfig`). Changing one intent's part means: lock the devices involved (sorted, so
two intents never deadlock), recompute their merged trees, run one network-wide
transaction, and only when it succeeded record the new trees in `DeviceConfig` and the
run in a `Transaction` object. A crash anywhere converges on the next pass: the
recomputed trees are pushed again, and a device already holding them reports no change.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intentloop_adapters import transactions as tx
from intentloop_adapters.errors import DeviceError
from intentloop_adapters.protocol import DeviceAdapter
from intentloop_intents import composition
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources import API_VERSION
from intentloop_operator import kube, logs, metrics
from intentloop_operator.runtime import Runtime
from intentloop_operator.sessions import SessionPool

CONFIRM_TIMEOUT_S = 30
KEEP_TRANSACTIONS = 10
EMPTY = DeviceConfigTree()

log = logs.get("intentloop.changes")


@dataclass(frozen=True)
class IntentRef:
    kind: str
    namespace: str
    name: str

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Applied:
    result: tx.TransactionResult
    transaction_name: str

    @property
    def ok(self) -> bool:
        return self.result.outcome in (
            tx.Outcome.COMMITTED,
            tx.Outcome.NO_CHANGE,
            tx.Outcome.DRY_RUN,
        )

    def reason(self) -> str:
        f = self.result.failure
        if f is None:
            return str(self.result.outcome)
        return f"device {f.device} failed at {f.phase}: {f.message}"


def owned_devices(rt: Runtime, owner: str) -> set[str]:
    return {
        device
        for device, tree in rt.desired.items()
        if any(
            owner in item.owners
            for items in (tree.interfaces, tree.vlans, tree.policers, tree.vrfs, tree.subinterfaces)
            for item in items
        )
    }


def plan_trees(
    rt: Runtime, owner: str, contributions: Mapping[str, DeviceConfigTree]
) -> dict[str, DeviceConfigTree]:
    """Each involved device's merged tree with `owner`'s part replaced by `contributions`."""
    devices = sorted(set(contributions) | owned_devices(rt, owner))
    trees = {}
    for device in devices:
        base = composition.remove_owner(rt.desired.get(device, EMPTY), owner)
        part = contributions.get(device)
        trees[device] = base if part is None else composition.merge([base, part], device=device)
    return trees


@contextlib.asynccontextmanager
async def locked(rt: Runtime, devices: list[str]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for device in sorted(devices):
            await stack.enter_async_context(rt.lock(device))
        yield


async def apply(
    rt: Runtime,
    pool: SessionPool,
    intent: IntentRef,
    contributions: Mapping[str, DeviceConfigTree],
    *,
    dry_run: bool = False,
) -> Applied:
    """Replace `intent`'s contribution on the devices, as one transaction."""
    devices = sorted(set(contributions) | owned_devices(rt, intent.owner))
    txid = f"{intent.name[:40]}-{uuid.uuid4().hex[:8]}"
    async with locked(rt, devices):
        trees = plan_trees(rt, intent.owner, contributions)
        deferred = _deferred(rt, trees, contributions)
        live = {d: t for d, t in trees.items() if d not in deferred}
        result = await _run(rt, pool, live, txid, dry_run)
        if result.outcome in (tx.Outcome.COMMITTED, tx.Outcome.NO_CHANGE) and not dry_run:
            await _record_desired(rt, trees)
            if deferred:
                log.info("transaction.deferred", transaction=txid, devices=sorted(deferred))
    metrics.TRANSACTIONS_TOTAL.labels(str(result.outcome)).inc()
    name = await _record_transaction(intent, txid, result, dry_run)
    return Applied(result, name)


def _deferred(
    rt: Runtime,
    trees: Mapping[str, DeviceConfigTree],
    contributions: Mapping[str, DeviceConfigTree],
) -> set[str]:
    """Unreachable devices that only lose this intent's config: leave them out of the
    transaction (it could never commit) and record their new desired tree; the drift check
    removes the stale config when they come back. A device that must *gain* config is never
    deferred (routes avoid unreachable devices anyway)."""
    deferred = set()
    for device in trees:
        state = rt.topology.device(device)
        if state is not None and not state.reachable and device not in contributions:
            deferred.add(device)
    return deferred


async def plan(
    rt: Runtime, pool: SessionPool, intent: IntentRef, contributions: Mapping[str, DeviceConfigTree]
) -> tx.TransactionResult:
    """What `apply` would change, per device, in each device's own language; touches nothing."""
    devices = sorted(set(contributions) | owned_devices(rt, intent.owner))
    txid = f"plan-{intent.name[:40]}-{uuid.uuid4().hex[:8]}"
    async with locked(rt, devices):
        trees = plan_trees(rt, intent.owner, contributions)
        return await _run(rt, pool, trees, txid, True)


async def _run(
    rt: Runtime, pool: SessionPool, trees: dict[str, DeviceConfigTree], txid: str, dry_run: bool
) -> tx.TransactionResult:
    plan: dict[str, tuple[DeviceAdapter, DeviceConfigTree]] = {}
    try:
        adapters = await asyncio.gather(
            *(pool.get(d, rt.devices.get(d)) for d in trees), return_exceptions=True
        )
        for device, adapter in zip(trees, adapters, strict=True):
            if isinstance(adapter, BaseException):
                return _unreachable(txid, device, adapter, trees)
            plan[device] = (adapter, trees[device])
        result = await tx.apply_transaction(
            plan, transaction_id=txid, confirm_timeout_s=CONFIRM_TIMEOUT_S, dry_run=dry_run
        )
    except DeviceError as e:
        return _unreachable(txid, e.device, e, trees)
    if result.failure is not None:  # a broken session must not be reused
        await pool.drop(result.failure.device)
    return result


def _unreachable(
    txid: str, device: str, error: BaseException, trees: Mapping[str, DeviceConfigTree]
) -> tx.TransactionResult:
    failure = tx.DeviceFailure(
        device=device, phase=tx.Phase.STAGE, message=str(error)[:1000], transient=True
    )
    return tx.TransactionResult(
        transaction_id=txid,
        outcome=tx.Outcome.FAILED,
        devices={d: tx.DeviceResult(device=d) for d in trees},
        failure=failure,
    )


async def _record_desired(rt: Runtime, trees: Mapping[str, DeviceConfigTree]) -> None:
    for device, tree in trees.items():
        if rt.desired.get(device) == tree:
            continue
        config = tree.canonical().model_dump(mode="json", by_alias=True, exclude_none=True)
        existing = await kube.get_object("deviceconfigs", device)
        if existing is None:
            body = {
                "apiVersion": API_VERSION,
                "kind": "DeviceConfig",
                "metadata": {"name": device},
                "spec": {"device": device, "config": config},
            }
            await kube.create_object("deviceconfigs", body)
        else:
            await kube.patch_object("deviceconfigs", device, {"spec": {"config": config}})
        rt.desired[device] = tree


async def _record_transaction(
    intent: IntentRef, txid: str, result: tx.TransactionResult, dry_run: bool
) -> str:
    now = datetime.now(UTC).isoformat()
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Transaction",
        "metadata": {"name": txid, "labels": {"intentloop.io/intent": intent.name[:63]}},
        "spec": {
            "intentRef": {"kind": intent.kind, "name": intent.name, "namespace": intent.namespace},
            "dryRun": dry_run,
            "devices": sorted(result.devices),
        },
    }
    try:
        await kube.create_object("transactions", body, intent.namespace)
        await kube.patch_object(
            "transactions",
            txid,
            {"status": transaction_status(result, now)},
            intent.namespace,
            status=True,
        )
        await _prune(intent)
    except Exception:
        log.exception("transaction.record.failed", transaction=txid)
    return txid


def transaction_status(result: tx.TransactionResult, finished: str) -> dict[str, Any]:
    failure = result.failure
    return {
        "phase": str(result.outcome),
        "finishedAt": finished,
        "durationMs": round(result.duration_ms, 2),
        "failedDevice": failure.device if failure else "",
        "message": (f"{failure.phase}: {failure.message}" if failure else "")[:1024],
        "devices": [
            {
                "device": d.device,
                "phase": str(d.phase_reached or ""),
                "outcome": "rolledBack"
                if d.rolled_back
                else ("changed" if d.changed else "unchanged"),
                "diff": d.native_diff[:60000],
                "error": d.error.message[:1024] if d.error else "",
                "timingsMs": {str(k): round(v, 2) for k, v in d.timings_ms.items()},
            }
            for d in result.devices.values()
        ],
    }


async def _prune(intent: IntentRef) -> None:
    """Keep the last KEEP_TRANSACTIONS records per intent: an audit trail, bounded."""
    selector = f"intentloop.io/intent={intent.name[:63]}"
    items = await kube.list_namespaced("transactions", intent.namespace, selector)
    items.sort(key=lambda o: o["metadata"]["creationTimestamp"])
    for old in items[:-KEEP_TRANSACTIONS]:
        await kube.delete_object("transactions", old["metadata"]["name"], intent.namespace)
