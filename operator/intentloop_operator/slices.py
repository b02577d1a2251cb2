"""NetworkSlice controller: admission control against link capacity.

A slice reserves its guaranteed bandwidth on routes between its endpoints (a star from the
first endpoint), all or nothing; a slice that does not fit is Rejected with the reason,
naming the bottleneck link, and admission is tried again every `RETRY_REJECTED_S` (the
network changes). An admitted slice keeps its reservation while services in it spend its
budget.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from intentloop_intents import conditions as cond
from intentloop_intents import paths
from intentloop_intents import topology as topo
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.meta import ConditionType
from intentloop_intents.resources.services import NetworkSliceSpec
from intentloop_operator import logs, ports
from intentloop_operator.runtime import Runtime, service_owner, slice_owner

WAIT_DELAY_S = 10.0
RETRY_REJECTED_S = 10.0

log = logs.get("intentloop.slices")


def admit(rt: Runtime, namespace: str, name: str, spec: NetworkSliceSpec) -> list[dict[str, Any]]:
    """Reserve the slice's routes, or raise NoFeasiblePath / CapacityExceeded (nothing held)."""
    owner = slice_owner(namespace, name)
    request = paths.PathRequest(
        source=spec.endpoints[0].device,
        target=spec.endpoints[1].device,
        bandwidth_mbps=float(spec.guaranteed_bandwidth_mbps),
        max_latency_ms=spec.max_latency_ms,
        reuse_owners=(owner,),
    )
    devices = tuple(dict.fromkeys(e.device for e in spec.endpoints))
    routes = paths.multipoint_routes(rt.topology, devices, request)
    links = {link for r in routes for link in r.links}
    before = rt.topology.reservation(owner)
    rt.topology.reserve(owner, links, float(spec.guaranteed_bandwidth_mbps))
    # `kubectl get lnk` shows what is reserved: the links gained and lost are written again
    rt.touch_links(links | (before.links if before is not None else frozenset()))
    return [
        {
            "endpoints": [r.devices[0], r.devices[-1]],
            "links": list(r.links),
            "mbps": spec.guaranteed_bandwidth_mbps,
            "latencyMs": round(r.latency_ms, 3),
        }
        for r in routes
    ]


def _status(body: kopf.Body, admitted: bool, reason: str, message: str) -> dict[str, Any]:
    now, gen = datetime.now(UTC), body.metadata.get("generation")
    conds: list[dict[str, Any]] = list(body.status.get("conditions", []))
    for type_, value in ((ConditionType.ADMITTED, admitted), (ConditionType.READY, admitted)):
        conds = cond.set_condition(
            conds, type=type_, status=value, reason=reason, message=message, generation=gen, now=now
        )
    return {
        "phase": "Admitted" if admitted else "Rejected",
        "reason": "" if admitted else message[:1024],
        "observedGeneration": gen,
        "conditions": conds,
    }


@kopf.on.resume(GROUP, VERSION, "networkslices", id="slice-resume")
@kopf.on.create(GROUP, VERSION, "networkslices", id="slice-create")
@kopf.on.update(GROUP, VERSION, "networkslices", id="slice-update", field="spec")
async def slice_changed(
    namespace: str | None, name: str, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    rt: Runtime = memo.runtime
    namespace = namespace or ""
    spec = NetworkSliceSpec.model_validate(dict(body.spec))
    key = service_owner(namespace, name)
    refused, kept = ports.check(rt, namespace, spec.endpoints, rt.slices.get(key))
    if refused is not None:  # nothing reserved; looked at again: the port may be assigned
        status = _status(body, False, ports.REASON, refused.message)
        patch.status.update(status)
        if _reason(body) != ports.REASON:
            kopf.warn(body, reason=ports.REASON, message=refused.message)
        rt.slices[key] = {"spec": dict(body.spec), "status": status}
        held = rt.topology.release(slice_owner(namespace, name))
        rt.touch_links(held.links if held is not None else ())
        raise kopf.TemporaryError(refused.message, delay=WAIT_DELAY_S)
    before = body.status.get("reason")
    try:
        reserved = admit(rt, namespace, name, spec)
    except paths.NoFeasiblePath as e:
        status = _status(body, False, str(e.infeasibility.constraint), e.infeasibility.message)
    except topo.CapacityExceeded as e:
        status = _status(body, False, "InsufficientBandwidth", str(e))
    else:
        status = _status(body, True, "Admitted", f"{spec.guaranteed_bandwidth_mbps} Mbps reserved")
        status["reserved"] = reserved
        kopf.info(body, reason="Admitted", message=status["conditions"][-1]["message"])
    status["conditions"] = ports.degraded(status["conditions"], kept, status["observedGeneration"])
    patch.status.update(status)
    rt.slices[key] = {"spec": dict(body.spec), "status": status}
    rt.waiting.nudge()  # services waiting for this slice (or for its capacity) look again
    if status["phase"] == "Rejected":
        # Capacity, devices and links change: admission is tried again now and then, with
        # one Event per distinct reason rather than one per attempt.
        if status["reason"] != before:
            kopf.warn(body, reason="Rejected", message=status["reason"])
        raise kopf.TemporaryError(status["reason"], delay=RETRY_REJECTED_S)


def _reason(body: kopf.Body) -> str:
    for c in body.status.get("conditions", []):
        if c.get("type") == ConditionType.ADMITTED:
            return str(c.get("reason", ""))
    return ""


# Deletion behind kopf's finalizer, like services: a watch's DELETED event can be missed
# (a deletion while the watch reconnects is never reported), and a missed one kept the
# slice's capacity reserved for ever. The finalizer makes the release certain.
@kopf.on.delete(GROUP, VERSION, "networkslices", id="slice-delete")
async def slice_deleted(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    rt: Runtime = memo.runtime
    held = rt.topology.release(slice_owner(namespace or "", name))
    if held is not None:
        rt.touch_links(held.links)
    rt.slices.pop(service_owner(namespace or "", name), None)
    rt.waiting.nudge()  # its capacity is free for services waiting
