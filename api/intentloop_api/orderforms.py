"""TMF641 ServiceOrder ⇄ the ServiceOrder custom resource.

An order item names its service (`service.name` for add, `service.id` — `<namespace>.<name>`
or the bare name — for modify and delete), what it is (`serviceSpecification.id`:
`l2-p2p`, `l3vpn` or `slice`) and its characteristics (`bandwidthMbps`, `endpoints`,
`maxLatencyMs`, `protection`, `sliceRef`, `vlan`; for a slice `profile`,
`guaranteedBandwidthMbps`, `maxLatencyMs`, `isolation`). Every item is translated and
checked here before anything is stored; a problem names the TMF field it came from.
"""

from __future__ import annotations

from typing import Any

import pydantic

from intentloop_api import errors
from intentloop_intents.resources import northbound, services

SLICE_SPEC = "slice"
SERVICE_SPECS = {t.value for t in services.ServiceType}
SERVICE_FIELDS = {"bandwidthMbps", "endpoints", "protection", "vlan", "maxLatencyMs", "sliceRef"}
SLICE_FIELDS = {"profile", "endpoints", "guaranteedBandwidthMbps", "maxLatencyMs", "isolation"}


def _characteristics(service: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, c in enumerate(service.get("serviceCharacteristic") or []):
        if not isinstance(c, dict) or "name" not in c or "value" not in c:
            raise errors.bad_field(f"{where}.serviceCharacteristic[{i}]", "needs name and value")
        out[str(c["name"])] = c["value"]
    return out


def _spec_id(service: dict[str, Any], where: str) -> str:
    spec = (service.get("serviceSpecification") or {}).get("id", "l2-p2p")
    if spec not in SERVICE_SPECS | {SLICE_SPEC}:
        allowed = ", ".join(sorted(SERVICE_SPECS | {SLICE_SPEC}))
        raise errors.bad_field(f"{where}.serviceSpecification.id", f"one of {allowed}")
    return str(spec)


def _intent_spec(spec_id: str, chars: dict[str, Any], where: str) -> dict[str, Any]:
    allowed = SLICE_FIELDS if spec_id == SLICE_SPEC else SERVICE_FIELDS
    for name in chars:
        if name not in allowed:
            raise errors.bad_field(
                f"{where}.serviceCharacteristic[{name}]",
                f"unknown characteristic; known: {', '.join(sorted(allowed))}",
            )
    if spec_id == SLICE_SPEC:
        return dict(chars)
    spec = {k: v for k, v in chars.items() if k not in {"maxLatencyMs", "sliceRef"}}
    spec["type"] = spec_id
    if "maxLatencyMs" in chars:
        spec["sla"] = {"maxLatencyMs": chars["maxLatencyMs"]}
    if "sliceRef" in chars:
        spec["sliceRef"] = {"name": chars["sliceRef"]}
    return spec


def _check(model: type[pydantic.BaseModel], spec: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        parsed = model.model_validate(spec)
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        loc = [str(x) for x in first["loc"]]
        name = {"sla": "maxLatencyMs", "type": "serviceSpecification"}.get(loc[0], loc[0])
        rest = "".join(f"[{x}]" for x in loc[1:])
        field = f"{where}.serviceCharacteristic[{name}]{rest}"
        raise errors.bad_field(field, first["msg"]) from e
    dumped: dict[str, Any] = parsed.model_dump(by_alias=True, exclude_defaults=True, mode="json")
    return dumped


def _name(item: dict[str, Any], action: str, namespace: str, where: str) -> str:
    service = item["service"]
    if action == "add":
        name = service.get("name")
        field = f"{where}.name"
    else:
        ident = str(service.get("id") or "")
        ns, dot, name = ident.partition(".")
        if dot and ns != namespace:
            raise errors.bad_field(f"{where}.id", f"names a service outside namespace {namespace}")
        name = name if dot else ident
        field = f"{where}.id"
    if not name:
        raise errors.bad_field(field, "required for action " + action)
    return str(name)


def translate_item(
    raw: Any, index: int, namespace: str, current: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One item; `current` holds, by name, the characteristics of the services a modify
    changes (a modify gives only what changes)."""
    where = f"serviceOrderItem[{index}]"
    if not isinstance(raw, dict):
        raise errors.bad_field(where, "must be an object")
    for required in ("id", "action", "service"):
        if required not in raw:
            raise errors.bad_field(f"{where}.{required}", "required")
    action = raw["action"]
    if action not in {a.value for a in northbound.OrderAction}:
        raise errors.bad_field(f"{where}.action", "one of add, modify, delete")
    service = raw["service"]
    if not isinstance(service, dict):
        raise errors.bad_field(f"{where}.service", "must be an object")
    spec_id = _spec_id(service, f"{where}.service")
    kind = "NetworkSlice" if spec_id == SLICE_SPEC else "NetworkService"
    out: dict[str, Any] = {"id": str(raw["id"]), "action": action, "kind": kind}
    out["name"] = _name(raw, action, namespace, f"{where}.service")
    if action != "delete":
        chars = _characteristics(service, f"{where}.service")
        if action == "modify":
            chars = {**(current or {}).get(out["name"], {}), **chars}
        spec = _intent_spec(spec_id, chars, f"{where}.service")
        if kind == "NetworkSlice":
            out["slice"] = _check(services.NetworkSliceSpec, spec, f"{where}.service")
        else:
            out["service"] = _check(services.NetworkServiceSpec, spec, f"{where}.service")
    return out


def raw_items(order: dict[str, Any]) -> list[Any]:
    items = order.get("serviceOrderItem")
    if not isinstance(items, list) or not items:
        raise errors.bad_field("serviceOrderItem", "at least one item is required")
    return items


def modified_names(order: dict[str, Any], namespace: str) -> list[tuple[str, str]]:
    """(kind plural, name) of every service a modify item changes."""
    out = []
    for i, raw in enumerate(raw_items(order)):
        if isinstance(raw, dict) and raw.get("action") == "modify":
            item = translate_item({**raw, "action": "delete"}, i, namespace)
            plural = "networkslices" if item["kind"] == "NetworkSlice" else "networkservices"
            out.append((plural, item["name"]))
    return out


def characteristics_of(spec: dict[str, Any]) -> dict[str, Any]:
    """A NetworkService/NetworkSlice spec as TMF characteristics (the inverse of above)."""
    chars = {k: v for k, v in spec.items() if k not in {"type", "sla", "sliceRef"}}
    if (spec.get("sla") or {}).get("maxLatencyMs") is not None:
        chars["maxLatencyMs"] = spec["sla"]["maxLatencyMs"]
    if spec.get("sliceRef"):
        chars["sliceRef"] = spec["sliceRef"]["name"]
    return chars


def translate(
    order: dict[str, Any], namespace: str, current: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The order's items as ServiceOrder CR items, all checked (or the first problem)."""
    items = raw_items(order)
    out = [translate_item(raw, i, namespace, current) for i, raw in enumerate(items)]
    seen: dict[str, int] = {}
    for i, item in enumerate(out):
        for key in (f"id:{item['id']}", f"{item['kind']}:{item['name']}"):
            if key in seen:
                field = "id" if key.startswith("id:") else "service"
                raise errors.bad_field(
                    f"serviceOrderItem[{i}].{field}",
                    f"repeats serviceOrderItem[{seen[key]}]: one item per id and per service",
                )
            seen[key] = i
    return out


def customer_namespace(order: dict[str, Any]) -> str | None:
    for party in order.get("relatedParty") or []:
        if isinstance(party, dict) and party.get("role") == "customer" and party.get("id"):
            return str(party["id"])
    return None
