"""TMF hub registrations: `POST {api}/hub {callback, query}` → an EventSubscription CR.

The component stores registrations in its own name, after asking Kubernetes
(SubjectAccessReview) whether the caller may list what the API notifies about: in every
namespace (the NOC: the registration gets every event) or in the caller's own namespace
(a tenant's BSS: events about that namespace only).
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from intentloop_api import auth, errors, events, scope
from intentloop_api.informers import Informer
from intentloop_api.kubeclient import GROUP, MERGE_PATCH, VERSION, KubeError, path

BASES = {
    "serviceOrdering": "/tmf-api/serviceOrdering/v4",
    "serviceInventory": "/tmf-api/serviceInventory/v4",
    "resourceInventory": "/tmf-api/resourceInventoryManagement/v4",
    "alarm": "/tmf-api/alarmManagement/v4",
    "troubleTicket": "/tmf-api/troubleTicket/v4",
}
INFORMERS = web.AppKey("hub-informers", dict)
CLUSTER_SCOPED = frozenset({"devices", "links"})


def home() -> str:
    """Where NOC registrations are stored: the component's own namespace."""
    return os.environ.get("INTENTLOOP_NAMESPACE", "intentloop-system")


def view(sub: dict[str, Any]) -> dict[str, Any]:
    spec = sub["spec"]
    return {"id": scope.tmf_id(sub), "callback": spec["callback"], "query": spec.get("query", "")}


async def _where(request: web.Request, api: str) -> tuple[str, bool]:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    plural = events.APIS[api].plurals[0]
    if await auth.can(kube, who, "list", plural):
        return home(), True
    own = who.service_account_namespace
    namespaced = plural not in CLUSTER_SCOPED
    if namespaced and own and await auth.can(kube, who, "list", plural, own):
        return own, False
    raise errors.ApiError(
        403,
        "Forbidden",
        f"callback: you may not read {plural} anywhere, so you may not be notified about them",
        code="FORBIDDEN",
    )


def _register(api: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        body = await errors.read_json(request)
        callback = body.get("callback")
        if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
            raise errors.bad_field("callback", "an http:// or https:// URL is required")
        ns, everywhere = await _where(request, api)
        kube, who = request.app[auth.KUBE], auth.identity(request)
        manifest = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "EventSubscription",
            "metadata": {"generateName": "hub-", "namespace": ns},
            "spec": {
                "api": api,
                "callback": callback,
                "query": str(body.get("query") or ""),
                "allNamespaces": everywhere,
                "owner": who.username,
            },
        }
        try:
            created = await kube.request(
                "POST", path("eventsubscriptions", namespace=ns), body=manifest
            )
        except KubeError as e:
            raise errors.from_kube(e) from e
        await _start_from_now(request, api, created)
        return web.json_response(view(created), status=201)

    return handler


async def _start_from_now(request: web.Request, api: str, sub: dict[str, Any]) -> None:
    """Save the registration's starting point at once, so that a restart right after it
    resends what changed since rather than nothing."""
    informers: dict[str, Informer] = request.app[INFORMERS]
    horizon = min(informers[p].revision for p in events.APIS[api].plurals)
    meta = sub["metadata"]
    target = path(
        "eventsubscriptions", namespace=meta["namespace"], name=meta["name"], sub="status"
    )
    await request.app[auth.KUBE].request(
        "PATCH", target, body={"status": {"deliveredRevision": horizon}}, content_type=MERGE_PATCH
    )


def _unregister(api: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        kube, who = request.app[auth.KUBE], auth.identity(request)
        ns, name = scope.split_id(request.match_info["id"])
        target = path("eventsubscriptions", namespace=ns, name=name)
        try:
            sub = await kube.request("GET", target)
        except KubeError as e:
            raise errors.not_found(f"hub {request.match_info['id']}") from e
        if sub["spec"].get("owner") != who.username or sub["spec"].get("api") != api:
            raise errors.not_found(f"hub {request.match_info['id']}")
        await kube.request("DELETE", target)
        return web.Response(status=204)

    return handler


def routes() -> list[web.RouteDef]:
    out = []
    for api, base in BASES.items():
        out += [
            web.post(f"{base}/hub", _register(api)),
            web.delete(f"{base}/hub/{{id}}", _unregister(api)),
        ]
    return out
