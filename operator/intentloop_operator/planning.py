"""Dry runs: a Transaction with `dryRun: true` shows what an intent would change.

The operator computes the intent's route and configuration exactly as it would for real,
asks every device for the native diff (NETCONF edit / gNMI updates) and writes it to the
Transaction's status — without reserving capacity, taking identifiers or touching devices.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.operations import TransactionSpec
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import changes, kube, ports, routing, services
from intentloop_operator.runtime import Runtime, service_owner


async def _preview_vlan(owner: str, spec: NetworkServiceSpec) -> int:
    """The VLAN the service holds, or the one it would get (nothing is taken)."""
    if spec.vlan is not None:
        return spec.vlan
    held = [a for a in await kube.list_objects("allocations") if a["spec"]["owner"] == owner]
    if held:
        return int(held[0]["spec"]["value"])
    pools = [p for p in await kube.list_objects("resourcepools") if p["spec"]["kind"] == "vlan"]
    taken = {int(a["spec"]["value"]) for a in await kube.list_objects("allocations")}
    for p in sorted(pools, key=lambda p: p["metadata"]["name"]):
        pool = alloc.Pool(
            name=p["metadata"]["name"],
            ranges=tuple((r["start"], r["end"]) for r in p["spec"]["ranges"]),
            excluded=frozenset(p["spec"].get("exclude", [])),
        )
        for value in alloc.candidates(pool, owner, taken):
            return value
    raise alloc.PoolExhausted("no VLAN pool has a free value")


async def plan(rt: Runtime, pool: Any, namespace: str, spec: TransactionSpec) -> dict[str, Any]:
    ref = spec.intent_ref
    if ref is None or ref.kind != "NetworkService":
        return {"phase": "Failed", "message": "a dry run needs intentRef to a NetworkService"}
    owner = service_owner(namespace, ref.name)
    service = spec.planned_service
    if service is None:
        stored = await kube.get_object("networkservices", ref.name, namespace)
        if stored is None:
            return {"phase": "Failed", "message": f"NetworkService {ref.name} not found"}
        service = NetworkServiceSpec.model_validate(stored["spec"])
    refused, _ = ports.check(rt, namespace, service.endpoints, rt.services.get(owner))
    if refused is not None:  # refused as provisioning would refuse it
        return {"phase": "Failed", "message": f"{ports.REASON}: {refused.message}"}
    try:
        r = routing.route(rt, namespace, ref.name, service)
        vlan = await _preview_vlan(owner, service)
        contributions = services.compile_service(owner, service, r, vlan, 65000)
    except (routing.NotRoutable, alloc.AllocationError, ValueError) as e:
        return {"phase": "Failed", "message": str(e)[:1024]}
    intent = changes.IntentRef("NetworkService", namespace, ref.name)
    result = await changes.plan(rt, pool, intent, contributions)
    status = changes.transaction_status(result, datetime.now(UTC).isoformat())
    status["phase"] = "Planned" if result.failure is None else "Failed"
    status["message"] = status["message"] or f"path {'-'.join(r.primary.devices)}, vlan {vlan}"
    return status


@kopf.on.create(
    GROUP, VERSION, "transactions", id="transaction-plan", when=lambda spec, **_: spec.get("dryRun")
)
async def dry_run(
    namespace: str | None, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    try:
        spec = TransactionSpec.model_validate(dict(body.spec))
    except ValidationError as e:
        patch.status.update({"phase": "Failed", "message": str(e)[:1024]})
        return
    patch.status.update(await plan(memo.runtime, memo.sessions, namespace or "", spec))
