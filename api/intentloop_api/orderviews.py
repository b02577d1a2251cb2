"""The ServiceOrder custom resource as a TMF641 ServiceOrder."""

from __future__ import annotations

from typing import Any

from intentloop_api import scope

BASE = "/tmf-api/serviceOrdering/v4"
SERVICE_INVENTORY = "/tmf-api/serviceInventory/v4/service"


def _service(item: dict[str, Any], namespace: str) -> dict[str, Any]:
    spec = item.get("service") or item.get("slice") or {}
    chars = dict(spec)
    if "sla" in chars:
        chars.update(chars.pop("sla"))
    if isinstance(chars.get("sliceRef"), dict):
        chars["sliceRef"] = chars["sliceRef"]["name"]
    spec_id = chars.pop("type", "l2-p2p") if item["kind"] == "NetworkService" else "slice"
    ident = f"{namespace}.{item['name']}"
    return {
        "id": ident,
        "href": f"{SERVICE_INVENTORY}/{ident}",
        "name": item["name"],
        "serviceSpecification": {"id": spec_id, "name": spec_id},
        "serviceCharacteristic": [{"name": k, "value": v} for k, v in sorted(chars.items())],
        "@type": "Service",
    }


def _item(item: dict[str, Any], state: dict[str, Any], namespace: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item["id"],
        "action": item["action"],
        "state": state.get("state", "acknowledged"),
        "service": _service(item, namespace),
        "@type": "ServiceOrderItem",
    }
    return out


def _error_message(items: list[dict[str, Any]], states: dict[str, dict[str, Any]]) -> Any:
    failed = [i for i in items if states.get(i["id"], {}).get("state") == "failed"]
    if not failed:
        return None
    first = states[failed[0]["id"]]
    return {
        "code": 422,
        "reason": first.get("reason") or "failed",
        "message": "; ".join(
            f"item {i['id']} ({i['kind']} {i['name']}): {states[i['id']].get('message', '')}"
            for i in failed
        ),
        "serviceOrderItem": [{"id": i["id"], "action": i["action"], "service": {}} for i in failed],
        "@type": "ServiceOrderErrorMessage",
    }


def render(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    status = obj.get("status") or {}
    ident = scope.tmf_id(obj)
    states = {s["id"]: s for s in status.get("items") or []}
    items = spec.get("items") or []
    out: dict[str, Any] = {
        "id": ident,
        "href": f"{BASE}/serviceOrder/{ident}",
        "externalId": spec.get("externalId", ""),
        "description": spec.get("description", ""),
        "category": spec.get("category", ""),
        "priority": spec.get("priority", ""),
        "orderDate": meta.get("creationTimestamp"),
        "state": status.get("state", "acknowledged"),
        "relatedParty": [
            {
                "id": meta["namespace"],
                "role": "customer",
                "@type": "RelatedParty",
                "@referredType": "Namespace",
            },
        ],
        "serviceOrderItem": [_item(i, states.get(i["id"], {}), meta["namespace"]) for i in items],
        "@type": "ServiceOrder",
    }
    for key in ("startDate", "completionDate"):
        if status.get(key):
            out[key] = status[key]
    if spec.get("cancellationReason"):
        out["cancellationReason"] = spec["cancellationReason"]
    error = _error_message(items, states)
    if error is not None:
        out["errorMessage"] = error
    return out
