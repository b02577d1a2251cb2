"""NetworkService controller: intent → route → identifiers → device config → transaction.

Level-triggered: every pass recomputes the whole realisation from the spec and the current
topology and applies the difference; running it twice changes nothing. Status is patched
once per pass. A pass that cannot finish for a transient reason (a device unreachable or
refusing its commit) says so in status and is retried with backoff until it converges; one
that depends on the world (no pool, no route, a port a Link uses) waits and is looked at
again when the inventory changes (`outcomes`, `healing`). Only an invalid spec is final.
Deletion (behind a finalizer) removes exactly this service's config from the devices,
then releases its identifiers and reserved capacity.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import kopf
from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import composition, tenancy
from intentloop_intents import conditions as cond
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.meta import ConditionType
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import (
    allocations,
    changes,
    identifiers,
    logs,
    metrics,
    ports,
    realising,
    routing,
)
from intentloop_operator.batching import Batcher
from intentloop_operator.identifiers import Identifiers
from intentloop_operator.outcomes import CompilationError, Outcome, classify
from intentloop_operator.runtime import Runtime, service_owner

RETRY_DELAY_S = 3.0
WAIT_DELAY_S = 10.0

log = logs.get("intentloop.services")


async def realise(
    rt: Runtime,
    batcher: Batcher,
    namespace: str,
    name: str,
    uid: str,
    spec: NetworkServiceSpec,
    before: Mapping[str, Any] | None = None,
) -> tuple[routing.Routing, Identifiers, changes.Applied]:
    """Route, identifiers, config, transaction; raises Outcome (see `outcomes.classify`).
    `before` is the status's `allocated` as last written (else as last remembered): what
    it held on ports and links the service no longer uses is given back once it is off them."""
    owner = service_owner(namespace, name)
    refused, _ = ports.check(rt, namespace, spec.endpoints, rt.services.get(owner))
    if refused is not None:  # nothing is pushed; looked at again: the port may be assigned
        raise Outcome("Failed", ports.REASON, refused.message, retry=True, waiting=True)
    try:
        r, ids, full = await realising.route_and_identify(
            rt, namespace, name, spec, partial(identifiers.take, rt.allocations, owner, uid, spec)
        )
        contributions = realising.compile_service(owner, spec, r, ids, identifiers.RT_ASN)
    except (routing.NotRoutable, alloc.AllocationError, allocations.NoPool, CompilationError) as e:
        raise classify(e) from None
    routing.release(rt, namespace, name)
    routing.reserve(rt, namespace, name, spec, r)
    intent = changes.IntentRef("NetworkService", namespace, name)
    try:
        applied = await batcher.submit(intent, contributions)
    except composition.ConfigConflict as e:
        o = classify(e)
        message = _own_words(rt, namespace, str(o))[:1000]
        raise Outcome(o.phase, o.reason, message, retry=o.retry, waiting=o.waiting) from None
    if not applied.ok:
        reason = _own_words(rt, namespace, applied.reason())
        rt.failed_transactions[owner] = reason  # shown in the tenant's transactionFailed alarm
        raise Outcome("Provisioning", "TransactionFailed", reason, retry=True)
    rt.failed_transactions.pop(owner, None)
    if before is None:
        before = ((rt.services.get(owner) or {}).get("status") or {}).get("allocated")
    links = realising.configured_links(spec, r)
    await identifiers.release_left(rt.allocations, owner, spec, links, before, full)
    return r, ids, applied


def _own_words(rt: Runtime, namespace: str, text: str) -> str:
    """`text` without the names of other tenants' intents (a tenant reads it in status)."""
    return tenancy.redact(text, tenancy.foreign_owners(rt.desired.values(), namespace))


def conditions_for(
    body: Mapping[str, Any], ready: bool, reason: str, message: str, progressing: bool
) -> list[dict[str, Any]]:
    now, gen = datetime.now(UTC), body["metadata"].get("generation")
    conds: list[dict[str, Any]] = list((body.get("status") or {}).get("conditions", []))
    for type_, value in (
        (ConditionType.READY, ready),
        (ConditionType.DEGRADED, not ready and not progressing),
        (ConditionType.PROGRESSING, progressing),
    ):
        conds = cond.set_condition(
            conds, type=type_, status=value, reason=reason, message=message, generation=gen, now=now
        )
    return conds


def _transaction_ref(applied: changes.Applied) -> dict[str, str]:
    namespace, name = applied.transaction_name.split("/", 1)
    return {"kind": "Transaction", "name": name, "namespace": namespace}


def ready_status(
    body: Mapping[str, Any], r: routing.Routing, ids: Identifiers, applied: changes.Applied, ns: str
) -> dict[str, Any]:
    bound = (body["spec"].get("sla") or {}).get("maxLatencyMs")
    latency = r.primary.latency_ms
    links = sorted({link for p in r.routes for link in p.links})
    return {
        "phase": "Ready",
        "path": list(r.primary.devices),
        "pathLinks": list(r.primary.links) if len(r.routes) == 1 else links,
        "backupPath": list(r.backup.devices) if r.backup else [],
        "backupPathLinks": list(r.backup.links) if r.backup else [],
        "allocated": {
            **ids.status(NetworkServiceSpec.model_validate(dict(body["spec"]))),
            "vlan": None,
        },
        "measuredLatencyMs": round(latency, 3),
        "slaMet": bound is None or latency <= bound,
        "transactionRef": _transaction_ref(applied),
        "observedGeneration": body["metadata"].get("generation"),
        "conditions": conditions_for(body, True, "Provisioned", applied.result.message, False),
    }


def remember(
    rt: Runtime, namespace: str, name: str, body: Any, status: dict[str, Any], r: routing.Routing
) -> None:
    """Keep what assurance needs: the service as last realised and the links it uses."""
    owner = service_owner(namespace, name)
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NetworkService"}
    obj["metadata"] = {
        k: body["metadata"].get(k) for k in ("name", "namespace", "uid", "generation")
    }
    obj["spec"] = dict(body["spec"])
    obj["status"] = {**dict(body.get("status") or {}), **status}
    rt.services[owner] = obj
    rt.service_links[owner] = frozenset(r.links)
    rt.repath.discard(owner)


@dataclass
class Pass:
    """What one pass decided: the status to write, at most one Event, and the failure."""

    status: dict[str, Any]
    event: tuple[str, str, str] | None  # (type, reason, message)
    failure: Outcome | None


async def evaluate(
    rt: Runtime,
    batcher: Batcher,
    namespace: str,
    name: str,
    uid: str,
    body: Mapping[str, Any],
    started_at: datetime | None = None,
) -> Pass:
    """One pass over the service (callers hold its `service_lock`); writes nothing to it."""
    started = time.perf_counter()
    owner = service_owner(namespace, name)
    event: tuple[str, str, str] | None = None
    try:
        spec = NetworkServiceSpec.model_validate(dict(body["spec"]))
        before = (body.get("status") or {}).get("allocated")
        r, ids, applied = await realise(rt, batcher, namespace, name, uid, spec, before)
    except ValidationError as e:
        failure: Outcome | None = classify(e)
    except Outcome as e:
        failure = e
    else:
        failure = None
        news = not _ready_at_generation(body)  # a resume or a repeated pass: no new Event
        status = ready_status(body, r, ids, applied, namespace)
        keep_port_warning(rt, namespace, name, spec, status)
        remember(rt, namespace, name, body, status, r)
        if started_at is not None and news:  # from the change (first attempt) to Ready
            elapsed = (datetime.now(UTC) - started_at.astimezone(UTC)).total_seconds()
            metrics.CONVERGENCE_SECONDS.labels("NetworkService").observe(max(0.0, elapsed))
        if news:
            vlans = "/".join(str(v) for v in ids.endpoint_vlans)
            message = f"path {'-'.join(r.primary.devices)}, vlan {vlans}"
            event = ("Normal", "Provisioned", message)
    if failure is not None:
        status = {
            "phase": failure.phase,
            "observedGeneration": body["metadata"].get("generation"),
            "conditions": conditions_for(
                body, False, failure.reason, str(failure), failure.retry and not failure.waiting
            ),
        }
        if _reason_changed(body, failure.reason):  # one Event per cause, not per retry
            event = ("Warning", failure.reason, str(failure)[:500])
    if failure is not None and failure.waiting:
        rt.waiting.wait(owner, uid)
    else:
        rt.waiting.done(owner)
    outcome = "ok" if failure is None else failure.reason
    metrics.RECONCILE_SECONDS.labels("NetworkService", outcome).observe(
        time.perf_counter() - started
    )
    return Pass(status, event, failure)


async def reconcile(
    namespace: str,
    name: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    started_at: datetime | None = None,
) -> None:
    done = await evaluate(memo.runtime, memo.batcher, namespace, name, uid, body, started_at)
    patch.status.update(done.status)
    if done.event is not None:
        kind, reason, message = done.event
        kopf.event(body, type=kind, reason=reason, message=message)
    failure = done.failure
    if failure is not None and failure.retry:
        delay = WAIT_DELAY_S if failure.waiting else RETRY_DELAY_S
        raise kopf.TemporaryError(str(failure), delay=delay)


def keep_port_warning(
    rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec, status: dict[str, Any]
) -> None:
    """A service running on a port no longer assigned to it stays, but shows Degraded."""
    _, kept = ports.check(rt, namespace, spec.endpoints, rt.services.get(f"{namespace}/{name}"))
    status["conditions"] = ports.degraded(status["conditions"], kept, status["observedGeneration"])


def _ready_at_generation(body: Mapping[str, Any]) -> bool:
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    return bool(status.get("phase") == "Ready" and status.get("observedGeneration") == generation)


def _reason_changed(body: Mapping[str, Any], reason: str) -> bool:
    for c in (body.get("status") or {}).get("conditions", []):
        if c.get("type") == ConditionType.READY:
            return bool(c.get("reason") != reason)
    return True


@kopf.on.resume(GROUP, VERSION, "networkservices", id="service-resume")
async def service_resumed(
    started: datetime,
    namespace: str | None,
    name: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """After a restart: adopt the service as stored when the devices carry it (nothing is
    sent, nothing written), else one full pass (see `resumption`)."""
    rt: Runtime = memo.runtime
    owner = service_owner(namespace or "", name)
    try:
        with logs.bound(kind="NetworkService", namespace=namespace, name=name):
            async with rt.service_lock(owner):
                if rt.resumption.adoptable(owner, body, rt.link_ends_by_name()):
                    rt.resumption.adopted += 1
                    return
                rt.resumption.recomputed += 1
                await reconcile(namespace or "", name, uid, body, patch, memo, started)
    finally:
        rt.resumption.done(owner)


@kopf.on.create(GROUP, VERSION, "networkservices", id="service-create")
@kopf.on.update(GROUP, VERSION, "networkservices", id="service-update", field="spec")
async def service_changed(
    started: datetime,
    namespace: str | None,
    name: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    rt: Runtime = memo.runtime
    owner = service_owner(namespace or "", name)
    rt.resumption.done(owner)  # changed while we were away: a full pass, not a resume
    with logs.bound(kind="NetworkService", namespace=namespace, name=name):
        async with rt.service_lock(owner):
            if rt.waiting.healed.pop(owner, None) == (uid, body.metadata.get("generation")):
                return  # `healing` already made this very generation Ready
            await reconcile(namespace or "", name, uid, body, patch, memo, started)


@kopf.on.delete(GROUP, VERSION, "networkservices", id="service-delete")
async def service_deleted(
    namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    """Remove the service's config, then its identifiers and reservations — under the same
    lock as every other writer of its realisation, so a re-path waiting for the lock finds
    the service gone instead of pushing its config back."""
    rt: Runtime = memo.runtime
    namespace = namespace or ""
    owner = service_owner(namespace, name)
    rt.resumption.done(owner)
    async with rt.service_lock(owner):
        gone = rt.services.pop(owner, None) or {}  # assurance and healing leave it alone now
        rt.repath.discard(owner)
        rt.waiting.forget(owner)
        intent = changes.IntentRef("NetworkService", namespace, name)
        applied = await changes.apply(rt, memo.sessions, intent, {})
        if not applied.ok:  # kopf keeps this message in the tenant-readable status
            why = _own_words(rt, namespace, applied.reason())
            raise kopf.TemporaryError(f"removing config: {why}", delay=RETRY_DELAY_S)
        uid = str(body.metadata.get("uid") or gone.get("metadata", {}).get("uid") or "")
        held = (
            (body.get("status") or {}).get("allocated"),
            (gone.get("status") or {}).get("allocated"),
        )
        pools = set().union(*(identifiers.pools_held(a) for a in held))
        await allocations.release(rt.allocations, owner, uid, pools)
        routing.release(rt, namespace, name)
        rt.failed_transactions.pop(owner, None)
        rt.service_links.pop(owner, None)
    rt.waiting.nudge()  # its capacity, VLAN and config items are free for services waiting
    log.info("service.deleted", kind="NetworkService", namespace=namespace, name=name)
