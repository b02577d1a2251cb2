"""TMF638 Service Inventory (NetworkServices and NetworkSlices as Services) and TMF639
Resource Inventory (Devices and Links as Resources), read as the caller."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from intentloop_api import auth, errors, orderforms, paging, scope

SERVICES = "/tmf-api/serviceInventory/v4"
RESOURCES = "/tmf-api/resourceInventoryManagement/v4"

# NetworkService phase → TMF638 ServiceStateType.
SERVICE_STATES = {
    "": "feasibilityChecked",
    "Pending": "feasibilityChecked",
    "Provisioning": "reserved",
    "Ready": "active",
    "Degraded": "active",
    "Failed": "inactive",
    "Deleting": "terminated",
}
SLICE_STATES = {
    "": "feasibilityChecked",
    "Pending": "feasibilityChecked",
    "Admitted": "active",
    "Rejected": "inactive",
}
STATUS_CHARACTERISTICS = (
    "phase",
    "path",
    "pathLinks",
    "backupPath",
    "measuredLatencyMs",
    "slaMet",
    "usedBandwidthMbps",
    "reason",
)


def service_state(obj: dict[str, Any]) -> str:
    phase = (obj.get("status") or {}).get("phase", "")
    if obj["metadata"].get("deletionTimestamp"):
        return "terminated"
    table = SLICE_STATES if obj.get("kind") == "NetworkSlice" else SERVICE_STATES
    return table.get(phase, "designed")


def _characteristics(obj: dict[str, Any]) -> list[dict[str, Any]]:
    chars = orderforms.characteristics_of(obj.get("spec") or {})
    status = obj.get("status") or {}
    for name in STATUS_CHARACTERISTICS:
        if status.get(name) not in (None, "", []):
            chars[name] = status[name]
    for name, value in (status.get("allocated") or {}).items():
        if value is not None:
            chars[name] = value
    return [{"name": k, "value": v} for k, v in sorted(chars.items())]


def service(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    ident = scope.tmf_id(obj)
    spec_id = "slice" if obj.get("kind") == "NetworkSlice" else spec.get("type", "l2-p2p")
    state = service_state(obj)
    path = (obj.get("status") or {}).get("path") or []
    out: dict[str, Any] = {
        "id": ident,
        "href": f"{SERVICES}/service/{ident}",
        "name": meta["name"],
        "category": obj.get("kind", "NetworkService"),
        "serviceType": spec_id,
        "state": state,
        "isServiceEnabled": state == "active",
        "hasStarted": state in {"active", "inactive"},
        "startDate": meta.get("creationTimestamp"),
        "serviceSpecification": {"id": spec_id, "name": spec_id},
        "serviceCharacteristic": _characteristics(obj),
        "supportingResource": [
            {
                "id": f"device.{d}",
                "href": f"{RESOURCES}/resource/device.{d}",
                "@referredType": "Device",
            }
            for d in path
        ],
        "relatedParty": [
            {
                "id": meta["namespace"],
                "role": "customer",
                "@type": "RelatedParty",
                "@referredType": "Namespace",
            }
        ],
        "@type": "Service",
    }
    order = (meta.get("labels") or {}).get("intentloop.io/service-order")
    if order:
        order_id = f"{meta['namespace']}.{order}"
        item_id = (meta.get("annotations") or {}).get("intentloop.io/service-order-item", "")
        out["serviceOrderItem"] = [
            {
                "itemId": item_id,
                "serviceOrderId": order_id,
                "serviceOrderHref": f"/tmf-api/serviceOrdering/v4/serviceOrder/{order_id}",
                "@type": "RelatedServiceOrderItem",
            }
        ]
    return out


async def _all_services(request: web.Request) -> list[dict[str, Any]]:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    out = []
    for plural, kind in (("networkservices", "NetworkService"), ("networkslices", "NetworkSlice")):
        for obj in await scope.list_objects(
            kube, who, plural, namespace=request.query.get(scope.HINT)
        ):
            out.append(service({**obj, "kind": kind}))
    return out


async def list_services(request: web.Request) -> web.Response:
    return paging.respond(request, await _all_services(request))


async def get_service(request: web.Request) -> web.Response:
    kube, who, ident = request.app[auth.KUBE], auth.identity(request), request.match_info["id"]
    try:
        obj = await scope.get_object(kube, who, "networkservices", ident)
        obj["kind"] = "NetworkService"
    except errors.ApiError as e:
        if e.status != 404:
            raise
        obj = await scope.get_object(kube, who, "networkslices", ident)
        obj["kind"] = "NetworkSlice"
    return web.json_response(paging.select(service(obj), request.query.get("fields")))


def _device(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    reachable = status.get("reachable")
    chars = {k: spec.get(k) for k in ("address", "role", "site", "platform", "model")}
    chars.update(
        {
            "softwareVersion": status.get("softwareVersion"),
            "inSync": status.get("inSync"),
            "reachable": reachable,
            "lastSeen": status.get("lastSeen"),
        }
    )
    return _resource("device", obj, "enable" if reachable else "disable", "unlocked", chars)


def _link(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    oper = status.get("operState", "unknown")
    chars = {
        "a": spec.get("a"),
        "b": spec.get("b"),
        "capacityMbps": spec.get("capacityMbps"),
        "latencyMs": spec.get("latencyMs"),
        "cost": spec.get("cost"),
        "srlgs": spec.get("srlgs"),
        "operState": oper,
        "measuredLatencyMs": status.get("measuredLatencyMs"),
        "utilisationMbps": status.get("utilisationMbps"),
        "reservedMbps": status.get("reservedMbps"),
    }
    return _resource("link", obj, "enable" if oper == "up" else "disable", "unlocked", chars)


def _resource(
    category: str, obj: dict[str, Any], oper: str, admin: str, chars: dict[str, Any]
) -> dict[str, Any]:
    name = obj["metadata"]["name"]
    ident = f"{category}.{name}"
    return {
        "id": ident,
        "href": f"{RESOURCES}/resource/{ident}",
        "name": name,
        "category": category,
        "operationalState": oper,
        "administrativeState": admin,
        "resourceStatus": "available" if oper == "enable" else "alarm",
        "usageState": "active" if oper == "enable" else "idle",
        "resourceVersion": obj["metadata"].get("resourceVersion", ""),
        "resourceCharacteristic": [
            {"name": k, "value": v} for k, v in sorted(chars.items()) if v not in (None, "", [])
        ],
        "@type": "PhysicalResource" if category == "device" else "LogicalResource",
    }


RESOURCE_KINDS = {"device": ("devices", _device), "link": ("links", _link)}


async def list_resources(request: web.Request) -> web.Response:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    out = []
    for plural, view in RESOURCE_KINDS.values():
        objs = await scope.list_objects(kube, who, plural, namespaced=False)
        out += [view(o) for o in objs]
    return paging.respond(request, out)


async def get_resource(request: web.Request) -> web.Response:
    ident = request.match_info["id"]
    category, _, name = ident.partition(".")
    if category not in RESOURCE_KINDS or not name:
        raise errors.not_found(f"resource {ident} (ids are device.<name> or link.<name>)")
    plural, view = RESOURCE_KINDS[category]
    obj = await scope.get_object(
        request.app[auth.KUBE], auth.identity(request), plural, name, namespaced=False
    )
    return web.json_response(paging.select(view(obj), request.query.get("fields")))


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{SERVICES}/service", list_services),
        web.get(f"{SERVICES}/service/{{id}}", get_service),
        web.get(f"{RESOURCES}/resource", list_resources),
        web.get(f"{RESOURCES}/resource/{{id}}", get_resource),
    ]
