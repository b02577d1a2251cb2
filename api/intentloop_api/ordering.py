"""TMF641 Service Ordering: /tmf-api/serviceOrdering/v4/serviceOrder and cancelServiceOrder.

An order is checked as a whole before anything is stored: every item is translated (field
named on error), then tried against the API server as the orderer with a server-side dry
run (RBAC, the CRDs' schemas and CEL rules, admission policies). Only then is the
ServiceOrder stored; the order controller (`ordercontrol`) carries it out.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from intentloop_api import auth, errors, orderforms, orderviews, paging, scope
from intentloop_api.kubeclient import GROUP, VERSION, Identity, Kube, KubeError, path

BASE = orderviews.BASE
PLURALS = {"NetworkService": "networkservices", "NetworkSlice": "networkslices"}
DRY_RUN = {"dryRun": "All"}


def intent_body(item: dict[str, Any], namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": item["kind"],
        "metadata": {"name": item["name"], "namespace": namespace},
        "spec": item.get("service") or item.get("slice") or {},
    }


async def _current(kube: Kube, who: Identity, order: dict[str, Any], ns: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for plural, name in orderforms.modified_names(order, ns):
        try:
            obj = await kube.request("GET", path(plural, namespace=ns, name=name), as_user=who)
        except KubeError as e:
            if e.status == 404:
                field = "serviceOrderItem.service.id"
                raise errors.bad_field(field, f"{name}: no such service") from e
            raise
        out[name] = orderforms.characteristics_of(obj.get("spec") or {})
    return out


async def _dry_run(kube: Kube, who: Identity, items: list[dict[str, Any]], ns: str) -> None:
    for i, item in enumerate(items):
        plural = PLURALS[item["kind"]]
        where = f"serviceOrderItem[{i}].service: "
        try:
            if item["action"] == "add":
                await kube.request(
                    "POST",
                    path(plural, namespace=ns),
                    body=intent_body(item, ns),
                    as_user=who,
                    params=DRY_RUN,
                )
            elif item["action"] == "modify":
                await kube.request(
                    "PUT",
                    path(plural, namespace=ns, name=item["name"]),
                    body=await _replaced(kube, who, item, ns),
                    as_user=who,
                    params=DRY_RUN,
                )
            else:
                await kube.request(
                    "DELETE",
                    path(plural, namespace=ns, name=item["name"]),
                    as_user=who,
                    params=DRY_RUN,
                )
        except KubeError as e:
            raise errors.from_kube(e, field_prefix=where) from e


async def _replaced(kube: Kube, who: Identity, item: dict[str, Any], ns: str) -> Any:
    plural = PLURALS[item["kind"]]
    obj = await kube.request("GET", path(plural, namespace=ns, name=item["name"]), as_user=who)
    obj["spec"] = intent_body(item, ns)["spec"]
    return obj


async def create_order(request: web.Request) -> web.Response:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    order = await errors.read_json(request)
    ns = scope.home_namespace(who, orderforms.customer_namespace(order))
    current = await _current(kube, who, order, ns)
    items = orderforms.translate(order, ns, current)
    await _dry_run(kube, who, items, ns)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ServiceOrder",
        "metadata": {"generateName": "order-", "namespace": ns},
        "spec": {
            "items": items,
            "externalId": str(order.get("externalId", ""))[:64],
            "description": str(order.get("description", ""))[:1024],
            "category": str(order.get("category", ""))[:64],
            "priority": str(order.get("priority", ""))[:64],
            "requestedBy": who.username,
        },
    }
    created = await kube.request(
        "POST", path("serviceorders", namespace=ns), body=body, as_user=who
    )
    return web.json_response(orderviews.render(created), status=201)


async def list_orders(request: web.Request) -> web.Response:
    objs = await scope.list_objects(
        request.app[auth.KUBE],
        auth.identity(request),
        "serviceorders",
        namespace=request.query.get(scope.HINT),
    )
    return paging.respond(request, [orderviews.render(o) for o in objs])


async def get_order(request: web.Request) -> web.Response:
    obj = await scope.get_object(
        request.app[auth.KUBE], auth.identity(request), "serviceorders", request.match_info["id"]
    )
    return web.json_response(paging.select(orderviews.render(obj), request.query.get("fields")))


async def delete_order(request: web.Request) -> web.Response:
    ns, name = scope.split_id(request.match_info["id"])
    kube, who = request.app[auth.KUBE], auth.identity(request)
    try:
        await kube.request("DELETE", path("serviceorders", namespace=ns, name=name), as_user=who)
    except KubeError as e:
        if e.status == 404:
            raise errors.not_found(f"serviceOrder {request.match_info['id']}") from e
        raise
    return web.Response(status=204)


def _cancel_view(order: dict[str, Any]) -> dict[str, Any]:
    state = (order.get("status") or {}).get("state", "acknowledged")
    ident = scope.tmf_id(order)
    return {
        "id": ident,
        "href": f"{BASE}/cancelServiceOrder/{ident}",
        "cancellationReason": (order.get("spec") or {}).get("cancellationReason", ""),
        "serviceOrder": {"id": ident, "href": f"{BASE}/serviceOrder/{ident}"},
        "state": "done" if state == "cancelled" else "inProgress",
        "@type": "CancelServiceOrder",
    }


async def cancel_order(request: web.Request) -> web.Response:
    body = await errors.read_json(request)
    ref = body.get("serviceOrder")
    if not isinstance(ref, dict) or not ref.get("id"):
        raise errors.bad_field("serviceOrder.id", "required")
    kube, who = request.app[auth.KUBE], auth.identity(request)
    ns, name = scope.split_id(str(ref["id"]))
    order = await scope.get_object(kube, who, "serviceorders", str(ref["id"]))
    if (order.get("status") or {}).get("state") in FINAL:
        raise errors.ApiError(
            409,
            "Conflict",
            f"serviceOrder.id: order {ref['id']} is already {order['status']['state']}",
            code="CONFLICT",
        )
    patch = {
        "spec": {
            "cancellationRequested": True,
            "cancellationReason": str(body.get("cancellationReason", ""))[:1024],
        }
    }
    order = await kube.request(
        "PATCH",
        path("serviceorders", namespace=ns, name=name),
        body=patch,
        as_user=who,
        content_type="application/merge-patch+json",
    )
    return web.json_response(_cancel_view(order), status=201)


async def get_cancel(request: web.Request) -> web.Response:
    order = await scope.get_object(
        request.app[auth.KUBE], auth.identity(request), "serviceorders", request.match_info["id"]
    )
    if not (order.get("spec") or {}).get("cancellationRequested"):
        raise errors.not_found(f"cancelServiceOrder {request.match_info['id']}")
    return web.json_response(_cancel_view(order))


async def list_cancels(request: web.Request) -> web.Response:
    objs = await scope.list_objects(
        request.app[auth.KUBE],
        auth.identity(request),
        "serviceorders",
        namespace=request.query.get(scope.HINT),
    )
    wanted = [o for o in objs if (o.get("spec") or {}).get("cancellationRequested")]
    return paging.respond(request, [_cancel_view(o) for o in wanted])


FINAL = frozenset({"completed", "failed", "partial", "cancelled", "rejected"})


def routes() -> list[web.RouteDef]:
    return [
        web.post(f"{BASE}/serviceOrder", create_order),
        web.get(f"{BASE}/serviceOrder", list_orders),
        web.get(f"{BASE}/serviceOrder/{{id}}", get_order),
        web.delete(f"{BASE}/serviceOrder/{{id}}", delete_order),
        web.post(f"{BASE}/cancelServiceOrder", cancel_order),
        web.get(f"{BASE}/cancelServiceOrder", list_cancels),
        web.get(f"{BASE}/cancelServiceOrder/{{id}}", get_cancel),
    ]
