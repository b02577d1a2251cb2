"""NetworkService controller: intent → route → identifiers → device config → transaction.

Level-triggered: every pass recomputes the whole realisation from the spec and the current
topology and applies the difference; running it twice changes nothing. Status is patched
once per pass. A pass that cannot finish for a transient reason (a device unreachable or
refusing its commit) says so in status and is retried with backoff until it converges.
Deletion (behind a finalizer) removes exactly this service's config from the devices,
then releases its identifiers and reserved capacity.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import compilation, composition, tenancy
from intentloop_intents import conditions as cond
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.meta import ConditionType
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import allocations, changes, logs, metrics, ports, routing
from intentloop_operator.batching import Batcher
from intentloop_operator.runtime import Runtime, service_owner

RETRY_DELAY_S = 3.0
WAIT_DELAY_S = 10.0

log = logs.get("intentloop.services")


class Outcome(Exception):
    """A pass that ends without Ready: phase, condition reason, message, retry or not.

    `waiting` outcomes are not being worked on (the service is Degraded, not Progressing)
    but depend on the network, which changes: they are retried every `WAIT_DELAY_S`.
    """

    def __init__(
        self, phase: str, reason: str, message: str, *, retry: bool, waiting: bool = False
    ) -> None:
        super().__init__(message)
        self.phase, self.reason, self.retry, self.waiting = phase, reason, retry, waiting


def compile_service(
    owner: str, spec: NetworkServiceSpec, r: routing.Routing, vlan: int, rt_asn: int
) -> dict[str, Any]:
    ends = tuple(
        compilation.ServiceEndpoint(device=e.device, interface=e.interface) for e in spec.endpoints
    )
    if spec.type == "l3vpn":
        return compilation.compile_l3vpn(
            compilation.L3Vpn(
                service=owner,
                endpoints=ends,
                vlan_id=vlan,
                bandwidth_mbps=spec.bandwidth_mbps,
                route_target=alloc.route_target(rt_asn, vlan),
                routes=tuple(p.hops for p in r.routes),
            )
        )
    return compilation.compile_l2_p2p(
        compilation.L2PointToPoint(
            service=owner,
            endpoints=(ends[0], ends[1]),
            vlan_id=vlan,
            bandwidth_mbps=spec.bandwidth_mbps,
            hops=r.primary.hops,
        )
    )


async def realise(
    rt: Runtime, batcher: Batcher, namespace: str, name: str, uid: str, spec: NetworkServiceSpec
) -> tuple[routing.Routing, int, changes.Applied]:
    owner = service_owner(namespace, name)
    refused, _ = ports.check(rt, namespace, spec.endpoints, rt.services.get(owner))
    if refused is not None:  # nothing is pushed; looked at again: the port may be assigned
        raise Outcome("Failed", ports.REASON, refused.message, retry=True, waiting=True)
    try:
        r = routing.route(rt, namespace, name, spec)
    except routing.NotRoutable as e:
        # Whether a route exists depends on the network (a device back, a link up,
        # capacity released): look again now and then instead of giving up for good.
        raise Outcome("Failed", e.reason, str(e), retry=True, waiting=True) from None
    try:
        vlan = await allocations.take(rt.allocations, "vlan", owner, uid, requested=spec.vlan)
    except alloc.PoolExhausted as e:  # may free up (deletions, lost races): keep trying
        raise Outcome("Pending", "AllocationFailed", str(e), retry=True) from None
    except (alloc.AllocationError, allocations.NoPool) as e:
        raise Outcome("Failed", "AllocationFailed", str(e), retry=False) from None
    try:
        contributions = compile_service(owner, spec, r, vlan, 65000)
    except ValueError as e:  # the compiler refuses a route it cannot realise
        raise Outcome("Failed", "CompilationFailed", str(e)[:1000], retry=False) from None
    routing.release(rt, namespace, name)
    routing.reserve(rt, namespace, name, spec, r)
    intent = changes.IntentRef("NetworkService", namespace, name)
    try:
        applied = await batcher.submit(intent, contributions)
    except composition.ConfigConflict as e:
        message = _own_words(rt, namespace, str(e))[:1000]
        raise Outcome("Failed", "ConfigConflict", message, retry=False) from None
    if not applied.ok:
        reason = _own_words(rt, namespace, applied.reason())
        rt.failed_transactions[owner] = reason  # shown in the tenant's transactionFailed alarm
        raise Outcome("Provisioning", "TransactionFailed", reason, retry=True)
    rt.failed_transactions.pop(owner, None)
    return r, vlan, applied


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
    body: Mapping[str, Any], r: routing.Routing, vlan: int, applied: changes.Applied, ns: str
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
        "allocated": {"vlan": vlan},
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


async def reconcile(
    namespace: str,
    name: str,
    uid: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    started_at: datetime | None = None,
) -> None:
    started = time.perf_counter()
    rt: Runtime = memo.runtime
    try:
        spec = NetworkServiceSpec.model_validate(dict(body.spec))
        r, vlan, applied = await realise(rt, memo.batcher, namespace, name, uid, spec)
    except ValidationError as e:
        failure: Outcome | None = Outcome("Failed", "InvalidSpec", str(e)[:1000], retry=False)
    except Outcome as e:
        failure = e
    else:
        failure = None
        status = ready_status(body, r, vlan, applied, namespace)
        keep_port_warning(rt, namespace, name, spec, status)
        patch.status.update(status)
        remember(rt, namespace, name, body, status, r)
        if started_at is not None:  # from the change (first attempt) to Ready, retries included
            elapsed = (datetime.now(UTC) - started_at.astimezone(UTC)).total_seconds()
            metrics.CONVERGENCE_SECONDS.labels("NetworkService").observe(max(0.0, elapsed))
        kopf.info(
            body, reason="Provisioned", message=f"path {'-'.join(r.primary.devices)}, vlan {vlan}"
        )
    if failure is not None:
        patch.status.update(
            {
                "phase": failure.phase,
                "observedGeneration": body.metadata.get("generation"),
                "conditions": conditions_for(
                    body, False, failure.reason, str(failure), failure.retry and not failure.waiting
                ),
            }
        )
        if _reason_changed(body, failure.reason):  # one Event per cause, not per retry
            kopf.warn(body, reason=failure.reason, message=str(failure)[:500])
    outcome = "ok" if failure is None else failure.reason
    metrics.RECONCILE_SECONDS.labels("NetworkService", outcome).observe(
        time.perf_counter() - started
    )
    if failure is not None and failure.retry:
        delay = WAIT_DELAY_S if failure.waiting else RETRY_DELAY_S
        raise kopf.TemporaryError(str(failure), delay=delay)


def keep_port_warning(
    rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec, status: dict[str, Any]
) -> None:
    """A service running on a port no longer assigned to it stays, but shows Degraded."""
    _, kept = ports.check(rt, namespace, spec.endpoints, rt.services.get(f"{namespace}/{name}"))
    status["conditions"] = ports.degraded(status["conditions"], kept, status["observedGeneration"])


def _reason_changed(body: Mapping[str, Any], reason: str) -> bool:
    for c in (body.get("status") or {}).get("conditions", []):
        if c.get("type") == ConditionType.READY:
            return bool(c.get("reason") != reason)
    return True


@kopf.on.resume(GROUP, VERSION, "networkservices", id="service-resume")
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
    with logs.bound(kind="NetworkService", namespace=namespace, name=name):
        async with rt.service_lock(owner):
            await reconcile(namespace or "", name, uid, body, patch, memo, started)


@kopf.on.delete(GROUP, VERSION, "networkservices", id="service-delete")
async def service_deleted(
    namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    rt: Runtime = memo.runtime
    namespace = namespace or ""
    intent = changes.IntentRef("NetworkService", namespace, name)
    applied = await changes.apply(rt, memo.sessions, intent, {})
    if not applied.ok:
        raise kopf.TemporaryError(f"removing config: {applied.reason()}", delay=RETRY_DELAY_S)
    await allocations.release(rt.allocations, service_owner(namespace, name))
    routing.release(rt, namespace, name)
    rt.services.pop(service_owner(namespace, name), None)
    rt.failed_transactions.pop(service_owner(namespace, name), None)
    rt.service_links.pop(service_owner(namespace, name), None)
    log.info("service.deleted", kind="NetworkService", namespace=namespace, name=name)
