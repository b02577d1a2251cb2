"""What the console needs beyond the TMF APIs: who the caller is, the topology picture,
recent transactions with their per-device diffs, and a server-sent event stream that says
*that* something changed (the page then reads it through the TMF APIs, as the caller).

The stream carries kinds only, never objects, and only about what the caller may list:
every namespace and the inventory for the NOC, its own namespace for a tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from intentloop_api import auth, errors, hub, scope
from intentloop_api.informers import Informer
from intentloop_intents import rendering
from intentloop_operator import topology_render

STREAMS: web.AppKey[set[Any]] = web.AppKey("console-streams", set)
KEEPALIVE_S = 15.0


async def _role(request: web.Request) -> tuple[bool, str | None]:
    kube, who = request.app[auth.KUBE], auth.identity(request)
    return await auth.can(kube, who, "list", "alarms"), who.service_account_namespace


async def whoami(request: web.Request) -> web.Response:
    noc, ns = await _role(request)
    return web.json_response({"user": auth.identity(request).username, "noc": noc, "namespace": ns})


async def topology(request: web.Request) -> web.Response:
    noc, _ = await _role(request)
    if not noc:
        raise errors.ApiError(
            403, "Forbidden", "topology: for those who may read everything", code="FORBIDDEN"
        )
    informers: dict[str, Informer] = request.app[hub.INFORMERS]
    objects = {
        p: list(informers[p].cache.values())
        for p in ("devices", "links", "networkservices", "alarms")
    }
    svg = rendering.render_svg(
        topology_render.network_view(**objects), generated_at=datetime.now(UTC)
    )
    return web.Response(
        text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


def _transaction(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "id": scope.tmf_id(obj),
        "time": obj["metadata"].get("creationTimestamp"),
        "intent": (spec.get("intentRef") or {}).get("name") or spec.get("reason", ""),
        "dryRun": bool(spec.get("dryRun")),
        "phase": status.get("phase", ""),
        "durationMs": status.get("durationMs"),
        "devices": [
            {
                "device": d.get("device"),
                "outcome": d.get("outcome") or d.get("phase"),
                "diff": d.get("diff", ""),
            }
            for d in status.get("devices") or []
        ],
    }


async def transactions(request: web.Request) -> web.Response:
    objs = await scope.list_objects(request.app[auth.KUBE], auth.identity(request), "transactions")
    objs.sort(key=lambda o: o["metadata"].get("creationTimestamp", ""), reverse=True)
    return web.json_response([_transaction(o) for o in objs[:15]])


class Stream:
    def __init__(self, namespace: str | None) -> None:
        self.namespace = namespace  # None: every namespace
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=100)

    def offer(self, plural: str, namespace: str | None) -> None:
        if self.namespace is not None and namespace != self.namespace:
            return  # a tenant hears of its own namespace only (not even of the inventory)
        with contextlib.suppress(asyncio.QueueFull):  # a slow page misses nothing it needs:
            self.queue.put_nowait(plural)  # it reloads everything on the next signal


async def stream(request: web.Request) -> web.StreamResponse:
    noc, ns = await _role(request)
    if not noc and ns is None:
        raise errors.ApiError(403, "Forbidden", "stream: no namespace to follow", code="FORBIDDEN")
    me = Stream(None if noc else ns)
    reply = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await reply.prepare(request)
    request.app[STREAMS].add(me)
    try:
        await reply.write(b"event: hello\ndata: {}\n\n")
        while True:
            try:
                plural = await asyncio.wait_for(me.queue.get(), timeout=KEEPALIVE_S)
                await reply.write(f"event: changed\ndata: {plural}\n\n".encode())
            except TimeoutError:
                await reply.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        request.app[STREAMS].discard(me)
    return reply


def follow(app: web.Application, informers: dict[str, Informer]) -> list[Any]:
    """Wire every informer to the open streams (no worker of its own)."""
    for plural, informer in informers.items():

        async def changed(kind: str, obj: dict[str, Any], plural: str = plural) -> None:
            streams: set[Stream] = app[STREAMS]
            for s in list(streams):
                s.offer(plural, obj["metadata"].get("namespace"))

        informer.listeners.append(changed)
    return []


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console-api/whoami", whoami),
        web.get("/console-api/topology.svg", topology),
        web.get("/console-api/transactions", transactions),
        web.get("/console-api/stream", stream),
    ]
