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
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intentloop_adapters import transactions as tx
from intentloop_adapters.errors import DeviceError
from intentloop_adapters.protocol import DeviceAdapter
from intentloop_intents import composition
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources import API_VERSION
from intentloop_operator import kube, logs, metrics, tenantview
from intentloop_operator.runtime import Runtime
from intentloop_operator.sessions import SessionPool

CONFIRM_TIMEOUT_S = 30
INFRA_NAMESPACE = "intentloop-system"
KEEP_TRANSACTIONS = 10
# Batches (several intents in one transaction) are kept as one series per namespace.
KEEP_BATCHES = 50
BATCH_LABEL = "intentloop.io/batch"
# A record's per-device diffs share this many characters, so a batch across many devices
# stays far below etcd's 1.5 MiB request limit (each device's diff is cut to its share).
DIFF_BUDGET = 512_000
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


def batch_devices(
    rt: Runtime, items: Sequence[tuple[IntentRef, Mapping[str, DeviceConfigTree]]]
) -> set[str]:
    """Every device a batch touches: where the intents add config, and where they had some."""
    wanted = {intent.owner for intent, _ in items}
    devices = {d for _, contributions in items for d in contributions}
    return devices | {d for d, tree in rt.desired.items() if _owners(tree) & wanted}


def batch_trees(
    rt: Runtime, items: Sequence[tuple[IntentRef, Mapping[str, DeviceConfigTree]]]
) -> dict[str, DeviceConfigTree]:
    """Each involved device's merged tree with the intents' parts replaced, in one pass per
    device: remove their old parts (only where they had any), then merge every new part in
    one go — linear in the device's tree, not in tree size times batch size."""
    parts: dict[str, list[DeviceConfigTree]] = {}
    owners = [intent.owner for intent, _ in items]
    for _, contributions in items:
        for device, part in contributions.items():
            parts.setdefault(device, []).append(part)
    trees = {}
    for device in sorted(batch_devices(rt, items)):
        tree = rt.desired.get(device, EMPTY)
        present = _owners(tree)
        for owner in owners:
            if owner in present:
                tree = composition.remove_owner(tree, owner)
        new = parts.get(device)
        trees[device] = composition.merge([tree, *new], device=device) if new else tree
    return trees


def _owners(tree: DeviceConfigTree) -> set[str]:
    items = (*tree.interfaces, *tree.vlans, *tree.policers, *tree.vrfs, *tree.subinterfaces)
    return {o for item in items for o in item.owners}


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
    return await apply_many(rt, pool, [(intent, contributions)], dry_run=dry_run)


async def apply_many(
    rt: Runtime,
    pool: SessionPool,
    items: Sequence[tuple[IntentRef, Mapping[str, DeviceConfigTree]]],
    *,
    dry_run: bool = False,
) -> Applied:
    """Replace several intents' contributions as ONE transaction: every device receives all
    of its changes in one commit. Raises ConfigConflict if the contributions collide."""
    first = items[0][0]
    txid = f"{first.name[:40]}-{uuid.uuid4().hex[:8]}"
    # Which devices to lock is decided without the locks; trees are recomputed under them.
    async with locked(rt, sorted(batch_devices(rt, items))):
        trees = batch_trees(rt, items)
        before = {d: rt.desired.get(d, EMPTY) for d in trees}
        added = {d for _, c in items for d in c}
        deferred = {d for d in _deferred(rt, trees, {}) if d not in added}
        live = {d: t for d, t in trees.items() if d not in deferred}
        result = await _run(rt, pool, live, txid, dry_run)
        if result.outcome in (tx.Outcome.COMMITTED, tx.Outcome.NO_CHANGE) and not dry_run:
            await _record_desired(rt, trees)
            if deferred:
                log.info("transaction.deferred", transaction=txid, devices=sorted(deferred))
    metrics.TRANSACTIONS_TOTAL.labels(str(result.outcome)).inc()
    intents = [i for i, _ in items]
    name = _record_name(intents, txid)
    record = tenantview.readable(rt, name.split("/", 1)[0], result, before, trees)
    # The audit record is written off the critical path: the change is already on the
    # devices and in DeviceConfig; the intent's status can point at the record's name now.
    _in_background(_record_transaction(intents, txid, record, dry_run))
    return Applied(result, name)


async def repair(
    rt: Runtime, pool: SessionPool, device: str, desired: DeviceConfigTree, deviations: int
) -> Applied:
    """Put `device` back to its desired tree (drift repair) through the one pipeline every
    change takes: fresh-session retry, the same confirm timeout, the transaction metric and
    a Transaction record — in the operator's namespace, no tenant's. The caller holds the
    device's lock: it compared the running config under it."""
    txid = f"drift-{device[:40]}-{uuid.uuid4().hex[:8]}"
    result = await _run(rt, pool, {device: desired}, txid, False)
    metrics.TRANSACTIONS_TOTAL.labels(str(result.outcome)).inc()
    reason = f"drift repair of device {device}: {deviations} deviation(s) put back"
    _in_background(_record_repair(device, txid, reason, result))
    return Applied(result, f"{INFRA_NAMESPACE}/{txid}")


_RECORDING: set[asyncio.Task[str]] = set()


def _in_background(record: Coroutine[Any, Any, str]) -> None:
    task = asyncio.create_task(record)
    _RECORDING.add(task)
    task.add_done_callback(_RECORDING.discard)


def _record_name(intents: Sequence[IntentRef], txid: str) -> str:
    namespaces = {i.namespace for i in intents}
    namespace = next(iter(namespaces)) if len(namespaces) == 1 else INFRA_NAMESPACE
    return f"{namespace}/{txid}"


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
    """What `apply` would change, per device, in each device's own language; touches nothing.
    The answer is the intent's namespace's to read: only its own items are shown."""
    items = [(intent, contributions)]
    txid = f"plan-{intent.name[:40]}-{uuid.uuid4().hex[:8]}"
    async with locked(rt, sorted(batch_devices(rt, items))):
        trees = batch_trees(rt, items)
        before = {d: rt.desired.get(d, EMPTY) for d in trees}
        result = await _run(rt, pool, trees, txid, True)
    return tenantview.readable(rt, intent.namespace, result, before, trees)


async def _run(
    rt: Runtime, pool: SessionPool, trees: dict[str, DeviceConfigTree], txid: str, dry_run: bool
) -> tx.TransactionResult:
    result = await _run_once(rt, pool, trees, txid, dry_run)
    failure = result.failure
    if failure is not None and failure.transient and failure.phase == tx.Phase.STAGE:
        # Nothing was committed anywhere: a pooled session may simply have gone stale.
        # Retry once on fresh sessions before reporting the device.
        log.info("transaction.retry", transaction=txid, device=failure.device)
        result = await _run_once(rt, pool, trees, f"{txid}-r", dry_run)
    return result


async def _run_once(
    rt: Runtime, pool: SessionPool, trees: dict[str, DeviceConfigTree], txid: str, dry_run: bool
) -> tx.TransactionResult:
    plan: dict[str, tuple[DeviceAdapter, DeviceConfigTree]] = {}
    try:
        adapters = await asyncio.gather(
            *(pool.get(d, rt.devices.get(d)) for d in trees), return_exceptions=True
        )
        for device, adapter in zip(trees, adapters, strict=True):
            if isinstance(adapter, BaseException):
                await pool.drop(device)
                return _unreachable(txid, device, adapter, trees)
            plan[device] = (adapter, trees[device])
        result = await tx.apply_transaction(
            plan, transaction_id=txid, confirm_timeout_s=CONFIRM_TIMEOUT_S, dry_run=dry_run
        )
    except DeviceError as e:
        await pool.drop(e.device)
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
    changed = {d: t for d, t in trees.items() if rt.desired.get(d) != t}
    await asyncio.gather(*(_write_device_config(rt, d, t) for d, t in changed.items()))


async def _write_device_config(rt: Runtime, device: str, tree: DeviceConfigTree) -> None:
    config = tree.canonical().model_dump(mode="json", by_alias=True, exclude_none=True)
    if device in rt.desired:  # the object exists: one PATCH
        written = await kube.patch_object("deviceconfigs", device, {"spec": {"config": config}})
    else:
        body = {
            "apiVersion": API_VERSION,
            "kind": "DeviceConfig",
            "metadata": {"name": device},
            "spec": {"device": device, "config": config},
        }
        try:
            written = await kube.create_object("deviceconfigs", body)
        except kube.AlreadyExists:
            written = await kube.patch_object("deviceconfigs", device, {"spec": {"config": config}})
    rt.desired[device] = tree
    rt.desired_generation[device] = int(written["metadata"].get("generation", 0))


async def _record_transaction(
    intents: Sequence[IntentRef], txid: str, result: tx.TransactionResult, dry_run: bool
) -> str:
    """The audit record: in the intent's namespace, or — for a batch spanning tenants — in
    the operator's namespace, so no tenant reads another tenant's configuration diffs."""
    namespace = _record_name(intents, txid).split("/", 1)[0]
    first = intents[0]
    now = datetime.now(UTC).isoformat()
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Transaction",
        "metadata": {"name": txid, "labels": {"intentloop.io/intent": first.name[:63]}},
        "spec": {
            "dryRun": dry_run,
            "devices": sorted(result.devices),
        },
    }
    if len(intents) == 1:
        body["spec"]["intentRef"] = {
            "kind": first.kind,
            "name": first.name,
            "namespace": first.namespace,
        }
    else:
        body["metadata"]["annotations"] = {
            "intentloop.io/intents": ",".join(sorted(i.owner for i in intents))[:60000]
        }
    if len(intents) == 1:
        prune = f"intentloop.io/intent={first.name[:63]}"
    else:
        body["metadata"]["labels"][BATCH_LABEL] = "true"
        prune = f"{BATCH_LABEL}=true"
    return await _store(namespace, body, result, now, prune)


async def _record_repair(device: str, txid: str, reason: str, result: tx.TransactionResult) -> str:
    label = "intentloop.io/drift-repair"
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Transaction",
        "metadata": {"name": txid, "labels": {label: device[:63]}},
        "spec": {
            "dryRun": False,
            "devices": [device],
            "intentRef": {"kind": "Device", "name": device},
            "reason": reason[:1024],
        },
    }
    now = datetime.now(UTC).isoformat()
    return await _store(INFRA_NAMESPACE, body, result, now, f"{label}={device[:63]}")


async def _store(
    namespace: str,
    body: dict[str, Any],
    result: tx.TransactionResult,
    now: str,
    prune: str | None,
) -> str:
    """Create the record, then its status; now and then prune the series `prune` selects."""
    txid = body["metadata"]["name"]
    try:
        await kube.create_object("transactions", body, namespace)
        await kube.patch_object(
            "transactions",
            txid,
            {"status": transaction_status(result, now)},
            namespace,
            status=True,
        )
        if prune is not None and uuid.uuid4().int % 5 == 0:  # prune now and then, not always
            await _prune(namespace, prune)
    except Exception:
        log.exception("transaction.record.failed", transaction=txid)
    return f"{namespace}/{txid}"


def transaction_status(result: tx.TransactionResult, finished: str) -> dict[str, Any]:
    failure = result.failure
    share = min(60000, DIFF_BUDGET // max(1, len(result.devices)))
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
                "diff": _cut(d.native_diff, share),
                "error": d.error.message[:1024] if d.error else "",
                "timingsMs": {str(k): round(v, 2) for k, v in d.timings_ms.items()},
            }
            for d in result.devices.values()
        ],
    }


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = f"\n... ({len(text) - limit} more characters not kept)"
    return text[: max(0, limit - len(note))] + note


async def _prune(namespace: str, selector: str) -> None:
    """Keep the last KEEP_TRANSACTIONS records per intent (or device repaired) and the last
    KEEP_BATCHES batch records per namespace: an audit trail, bounded."""
    keep = KEEP_BATCHES if selector.startswith(BATCH_LABEL) else KEEP_TRANSACTIONS
    items = await kube.list_namespaced("transactions", namespace, selector)
    items.sort(key=lambda o: o["metadata"]["creationTimestamp"])
    for old in items[:-keep]:
        await kube.delete_object("transactions", old["metadata"]["name"], namespace)
