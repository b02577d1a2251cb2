"""The component's Kubernetes client against a small HTTP server: impersonation headers,
refusals that are not JSON, and watch events larger than aiohttp's default line."""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from intentloop_api.kubeclient import Connection, Identity, KubeClient, KubeError

BIG = {
    "type": "ADDED",
    "object": {"metadata": {"name": "x", "resourceVersion": "5"}, "blob": "a" * 300_000},
}


def _app(seen: list[Any]) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        seen.append(
            (
                request.headers.getall("Impersonate-Group", []),
                request.headers.get("Impersonate-User"),
                request.headers.get("Authorization"),
            )
        )
        return web.json_response({"ok": True})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="<html>upstream gone</html>")

    async def watch(request: web.Request) -> web.StreamResponse:
        reply = web.StreamResponse()
        await reply.prepare(request)
        await reply.write((json.dumps(BIG) + "\n").encode())
        return reply

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/broken", broken)
    app.router.add_get("/watch", watch)
    return app


async def test_calls_are_made_as_the_caller_and_refusals_keep_their_status() -> None:
    seen: list[Any] = []
    async with TestServer(_app(seen)) as server:
        conn = Connection(
            str(server.make_url("")).rstrip("/"), ssl.create_default_context(), token="own-token"
        )
        kube = KubeClient(conn)
        who = Identity("alice", ("tenant-a", "system:authenticated"))
        assert await kube.request("GET", "/echo", as_user=who) == {"ok": True}
        await kube.request("GET", "/echo")
        with pytest.raises(KubeError) as refused:
            await kube.request("GET", "/broken")
        events = [e async for e in kube.watch("/watch", resource_version="1")]
        await kube.close()
    assert seen[0] == (["tenant-a"], "alice", "Bearer own-token")
    assert seen[1] == ([], None, "Bearer own-token")
    assert refused.value.status == 503 and "upstream gone" in refused.value.message
    assert len(events[0]["object"]["blob"]) == 300_000
