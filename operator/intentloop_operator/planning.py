"""Dry runs: a Transaction with `dryRun: true` shows what an intent would change.

The operator computes the intent's route and configuration exactly as it would for real,
asks every device for the native diff (NETCONF edit / gNMI updates) and writes it to the
Transaction's status — without reserving capacity, taking identifiers or touching devices.
The identifiers it shows (customer VLANs, link tags, service ID) are the ones provisioning
would take: both ask `identifiers`, which decides with `allocation_index.decide`. A dry run
always ends with a phase: what cannot be planned is `Failed` with a message for the tenant
who asked, naming no other tenant's intent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import kopf
import kubernetes
import urllib3
from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import composition
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.operations import TransactionSpec
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import (
    allocations,
    changes,
    identifiers,
    kube,
    logs,
    ports,
    realising,
    routing,
)
from intentloop_operator.runtime import Runtime, service_owner

MAX_TRANSIENT_RETRIES = 5  # the API server briefly unavailable: then the dry run fails
INTERNAL = "the dry run could not be planned: internal error (the operator's log has details)"

log = logs.get("intentloop.planning")


class Refused(Exception):
    """The plan cannot be made; the message is for the tenant who asked, naming no one else."""


def conflict_message(e: composition.ConfigConflict) -> str:
    """A ConfigConflict as its planner may read it: where and which setting, not whose."""
    where = f"{e.device}: " if e.device else ""
    return (
        f"{where}{e.item} is already configured by another intent with a different "
        f"{e.field}; plan the service so that it does not need that item changed"
    )


def vlan_refusal(e: alloc.AllocationError) -> str:
    """Why no identifier can be previewed, without saying who holds what."""
    text = str(e)
    if isinstance(e, alloc.PoolExhausted):
        return f"{text}: ask the platform team for more"
    if "is in none of the pools" in text or "excluded" in text or "outside" in text:
        return f"spec.vlan: {text}; choose another or leave vlan unset to get a free one"
    return text  # already says which field and where, naming no one


async def preview_identifiers(
    rt: Runtime, namespace: str, name: str, spec: NetworkServiceSpec
) -> tuple[routing.Routing, identifiers.Identifiers]:
    """The route and what provisioning would hold for the service now (the same choices,
    the same links routed around; nothing is taken)."""
    owner = service_owner(namespace, name)
    identify = partial(identifiers.preview, rt.allocations, owner, spec)
    try:
        r, ids, _ = await realising.route_and_identify(rt, namespace, name, spec, identify)
    except allocations.NoPool:
        raise Refused("no VLAN pool exists yet: ask the platform team for one") from None
    except alloc.AllocationError as e:
        raise Refused(vlan_refusal(e)) from None
    return r, ids


async def _service(namespace: str, spec: TransactionSpec) -> tuple[str, NetworkServiceSpec]:
    ref = spec.intent_ref
    if ref is None or ref.kind != "NetworkService":
        raise Refused("spec.intentRef: a dry run needs intentRef to a NetworkService")
    if spec.planned_service is not None:
        return ref.name, spec.planned_service
    stored = await kube.get_object("networkservices", ref.name, namespace)
    if stored is None:
        raise Refused(f"spec.intentRef: NetworkService {ref.name} not found in {namespace}")
    return ref.name, NetworkServiceSpec.model_validate(stored["spec"])


async def plan(rt: Runtime, pool: Any, namespace: str, spec: TransactionSpec) -> dict[str, Any]:
    """The dry run's status: Planned with per-device diffs, or Failed saying why."""
    try:
        name, service = await _service(namespace, spec)
        owner = service_owner(namespace, name)
        refused, _ = ports.check(rt, namespace, service.endpoints, rt.services.get(owner))
        if refused is not None:  # refused as provisioning would refuse it
            raise Refused(f"{ports.REASON}: {refused.message}")
        r, ids = await preview_identifiers(rt, namespace, name, service)
        contributions = realising.compile_service(owner, service, r, ids, identifiers.RT_ASN)
        intent = changes.IntentRef("NetworkService", namespace, name)
        result = await changes.plan(rt, pool, intent, contributions)
    except Refused as e:
        return failed(str(e))
    except routing.NotRoutable as e:
        return failed(str(e))
    except composition.ConfigConflict as e:
        return failed(conflict_message(e))
    except ValidationError as e:
        return failed(field_errors(e, "the stored NetworkService"))
    except ValueError as e:  # the compiler refuses a route it cannot realise
        return failed(str(e))
    status = changes.transaction_status(result, _now())
    status["phase"] = "Planned" if result.failure is None else "Failed"
    vlans = "/".join(str(v) for v in ids.endpoint_vlans)
    status["message"] = status["message"] or f"path {'-'.join(r.primary.devices)}, vlan {vlans}"
    return status


def failed(message: str) -> dict[str, Any]:
    return {"phase": "Failed", "message": message[:1024], "finishedAt": _now()}


def field_errors(e: ValidationError, what: str) -> str:
    """pydantic's errors as a person reads them: `field: problem`, no links to its docs."""
    parts = [
        f"{'.'.join(str(x) for x in err['loc']) or what}: {err['msg']}" for err in e.errors()[:5]
    ]
    return f"{what} is invalid: " + "; ".join(parts)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def transient(e: BaseException) -> bool:
    """The API server or the network failing for a moment: worth a few retries."""
    if isinstance(e, kubernetes.client.ApiException):
        return e.status is None or e.status == 429 or e.status >= 500
    return isinstance(e, urllib3.exceptions.HTTPError | OSError | TimeoutError)


@kopf.on.create(
    GROUP, VERSION, "transactions", id="transaction-plan", when=lambda spec, **_: spec.get("dryRun")
)
async def dry_run(
    namespace: str | None,
    name: str,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    retry: int,
    **_: Any,
) -> None:
    """Always ends with a phase. Nothing raised reaches kopf with its own words: kopf would
    retry it forever and put the message (which may name other tenants' intents) in the
    object's annotations and Events."""
    try:
        spec = TransactionSpec.model_validate(dict(body.spec))
        patch.status.update(await plan(memo.runtime, memo.sessions, namespace or "", spec))
        return
    except ValidationError as e:
        patch.status.update(failed(field_errors(e, "spec")))
        return
    except Exception as e:
        if not (transient(e) and retry < MAX_TRANSIENT_RETRIES):
            log.exception("plan.failed", namespace=namespace, name=name)
            patch.status.update(failed(INTERNAL))
            return
        log.warning("plan.retry", namespace=namespace, name=name, error=type(e).__name__)
    raise kopf.TemporaryError("the API server did not answer; retrying the dry run", delay=5)
