"""Customer ports belong to tenants: PortAssignments, kept in memory and enforced.

The operator loads every PortAssignment at start-up (before any intent handler runs) and
follows their watch events. An intent may attach only to ports assigned to its namespace:
services and slices asking for another port are refused (`PortNotAssigned`, nothing is
pushed) and retried, so they converge once the platform team assigns the port.

A port an intent already runs on is never torn down because its assignment went away:
the intent keeps running, shows `Degraded=True` (`PortNotAssigned`), and any change to it
is still allowed on the ports it holds. Assigning the port back clears the condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import kopf

from intentloop_intents import conditions as cond
from intentloop_intents import tenancy
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.meta import ConditionType
from intentloop_operator import kube, logs
from intentloop_operator.runtime import Runtime

REASON = "PortNotAssigned"
_RUNNING = ("Ready", "Admitted", "Degraded")  # phases in which an intent holds its ports

log = logs.get("intentloop.ports")


class _Endpoint(Protocol):
    @property
    def device(self) -> str: ...
    @property
    def interface(self) -> str: ...


def load(rt: Runtime, objects: Iterable[Mapping[str, Any]]) -> None:
    rt.ports.clear()
    for obj in objects:
        spec = obj.get("spec") or {}
        rt.ports[(spec["device"], spec["interface"])] = spec["tenant"]


def _held(obj: Mapping[str, Any] | None) -> set[tenancy.Port]:
    """The ports an intent is realised on (its last admitted/provisioned spec)."""
    if obj is None or (obj.get("status") or {}).get("phase") not in _RUNNING:
        return set()
    return {(e["device"], e["interface"]) for e in obj.get("spec", {}).get("endpoints", [])}


def check(
    rt: Runtime, namespace: str, endpoints: Iterable[_Endpoint], realised: Mapping[str, Any] | None
) -> tuple[tenancy.PortRefusal | None, tenancy.PortRefusal | None]:
    """(refused, kept): ports the intent may not take, and ports it keeps although they are
    no longer assigned to it (it already runs there: Degraded, not torn down)."""
    wanted = [(e.device, e.interface) for e in endpoints]
    missing = tenancy.unassigned(namespace, wanted, rt.ports)
    if missing is None:
        return None, None
    held = _held(realised)
    new = tuple(p for p in missing.ports if p not in held)
    kept = tuple(p for p in missing.ports if p in held)
    return (
        tenancy.PortRefusal(namespace, new) if new else None,
        tenancy.PortRefusal(namespace, kept) if kept else None,
    )


def degraded(
    conditions: list[dict[str, Any]], kept: tenancy.PortRefusal | None, generation: int | None
) -> list[dict[str, Any]]:
    """`conditions` with Degraded saying whether the intent runs on ports no longer its own."""
    if kept is None:
        return conditions
    return cond.set_condition(
        conditions,
        type=ConditionType.DEGRADED,
        status=True,
        reason=REASON,
        message=f"{kept.message}; the intent keeps running there but no new port is taken",
        generation=generation,
        now=datetime.now(UTC),
    )


@kopf.on.event(GROUP, VERSION, "portassignments", id="port-assignments")
async def assignment_event(type: str, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    rt: Runtime = memo.runtime
    spec = dict(body.spec)
    port = (spec.get("device", ""), spec.get("interface", ""))
    before = rt.ports.get(port)
    if type == "DELETED":
        rt.ports.pop(port, None)
    else:
        rt.ports[port] = spec.get("tenant", "")
    if rt.ports.get(port) != before:
        log.info("port.assignment.changed", device=port[0], interface=port[1])
        await _reflect(rt, port)
        rt.waiting.nudge()  # services refused for this port look again now


async def _reflect(rt: Runtime, port: tenancy.Port) -> None:
    """Show on every running intent at `port` whether it still may use it."""
    intents = [("networkservices", key, obj) for key, obj in rt.services.items()]
    intents += [("networkslices", key, obj) for key, obj in rt.slices.items()]
    for plural, key, obj in intents:
        if port not in _held(obj):
            continue
        namespace, name = key.split("/", 1)
        ports = [(e["device"], e["interface"]) for e in obj["spec"]["endpoints"]]
        missing = tenancy.unassigned(namespace, ports, rt.ports)
        conds = list((obj.get("status") or {}).get("conditions", []))
        gen = (obj.get("metadata") or {}).get("generation")
        if missing is not None:
            conds = degraded(conds, missing, gen)
        else:
            conds = cond.set_condition(
                conds,
                type=ConditionType.DEGRADED,
                status=False,
                reason="PortsAssigned",
                message="every port of the intent is assigned to its namespace",
                generation=gen,
                now=datetime.now(UTC),
            )
        obj.setdefault("status", {})["conditions"] = conds
        try:
            await kube.patch_object(
                plural, name, {"status": {"conditions": conds}}, namespace, status=True
            )
        except Exception as e:  # the intent may be going away meanwhile
            log.warning("port.status.write.failed", namespace=namespace, name=name, error=str(e))
