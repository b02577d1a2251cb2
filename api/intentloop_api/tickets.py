"""TMF621 Trouble Ticket: tickets the loop opened for root-cause alarms, and tickets people
open by hand, read and created as the caller."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from intentloop_api import alarmviews, auth, errors, orderforms, paging, scope
from intentloop_api.kubeclient import GROUP, VERSION, path

BASE = "/tmf-api/troubleTicket/v4"
SERVICE_HREF = "/tmf-api/serviceInventory/v4/service"
ALARM_HREF = "/tmf-api/alarmManagement/v4/alarm"


def _entities(spec: dict[str, Any], ns: str) -> list[dict[str, Any]]:
    out = []
    for svc in spec.get("relatedServices") or []:
        ident = f"{svc.get('namespace') or ns}.{svc['name']}"
        out.append(
            {
                "id": ident,
                "href": f"{SERVICE_HREF}/{ident}",
                "name": svc["name"],
                "role": "affectedService",
                "@referredType": "Service",
                "@type": "RelatedEntity",
            }
        )
    root = spec.get("rootCauseAlarm")
    if root:
        root_ns = root.get("namespace") or ns
        ident = str(alarmviews.number(root_ns, root["name"]))
        out.append(
            {
                "id": ident,
                "href": f"{ALARM_HREF}/{ident}",
                "name": f"{root_ns}.{root['name']}",
                "role": "rootCause",
                "@referredType": "Alarm",
                "@type": "RelatedEntity",
            }
        )
    return out


def ticket(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    ident, ns = scope.tmf_id(obj), meta["namespace"]
    out: dict[str, Any] = {
        "id": ident,
        "href": f"{BASE}/troubleTicket/{ident}",
        "name": spec.get("name") or meta["name"],
        "description": spec.get("description", ""),
        "severity": spec.get("severity", "major"),
        "ticketType": spec.get("ticketType", "networkFault"),
        "status": status.get("state", "acknowledged"),
        "creationDate": meta.get("creationTimestamp"),
        "relatedEntity": _entities(spec, ns),
        "relatedParty": [
            {"id": ns, "role": "customer", "@referredType": "Namespace", "@type": "RelatedParty"},
            {
                "id": spec.get("requestedBy") or "unknown",
                "role": "originator",
                "@referredType": "Individual",
                "@type": "RelatedParty",
            },
        ],
        "@type": "TroubleTicket",
    }
    for key in ("statusChangeReason", "statusChangeDate", "resolutionDate"):
        if status.get(key):
            out[key] = status[key]
    return out


async def list_tickets(request: web.Request) -> web.Response:
    objs = await scope.list_objects(
        request.app[auth.KUBE],
        auth.identity(request),
        "troubletickets",
        namespace=request.query.get(scope.HINT),
    )
    return paging.respond(request, [ticket(o) for o in objs])


async def get_ticket(request: web.Request) -> web.Response:
    obj = await scope.get_object(
        request.app[auth.KUBE], auth.identity(request), "troubletickets", request.match_info["id"]
    )
    return web.json_response(paging.select(ticket(obj), request.query.get("fields")))


def _services(body: dict[str, Any], ns: str) -> list[dict[str, Any]]:
    out = []
    for i, entity in enumerate(body.get("relatedEntity") or []):
        if not isinstance(entity, dict) or entity.get("@referredType") != "Service":
            continue
        svc_ns, _, name = str(entity.get("id", "")).rpartition(".")
        if not name or (svc_ns and svc_ns != ns):
            raise errors.bad_field(f"relatedEntity[{i}].id", f"a service of namespace {ns}")
        out.append({"kind": "NetworkService", "namespace": ns, "name": name})
    return out


async def create_ticket(request: web.Request) -> web.Response:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    body = await errors.read_json(request)
    for required in ("description", "severity", "ticketType"):
        if not str(body.get(required) or "").strip():
            raise errors.bad_field(required, "required")
    ns = scope.home_namespace(who, orderforms.customer_namespace(body))
    spec = {
        "name": str(body.get("name", ""))[:1024],
        "description": str(body["description"])[:1024],
        "severity": str(body["severity"])[:64],
        "ticketType": str(body["ticketType"])[:64],
        "relatedServices": _services(body, ns),
        "requestedBy": who.username,
    }
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TroubleTicket",
        "metadata": {"generateName": "tt-", "namespace": ns},
        "spec": spec,
    }
    created = await kube.request(
        "POST", path("troubletickets", namespace=ns), body=manifest, as_user=who
    )
    return web.json_response(ticket(created), status=201)


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{BASE}/troubleTicket", list_tickets),
        web.get(f"{BASE}/troubleTicket/{{id}}", get_ticket),
        web.post(f"{BASE}/troubleTicket", create_ticket),
    ]
