"""The northbound component: one aiohttp application serving the TMF Open APIs and the
console, and the controllers behind them (orders, tickets, hub delivery)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from intentloop_api import (
    alarmtasks,
    auth,
    console,
    consoleapi,
    errors,
    hub,
    inventory,
    notifier,
    ordercontrol,
    ordering,
    telemetry,
    ticketcontrol,
    tickets,
)
from intentloop_api.informers import Informer
from intentloop_api.kubeclient import Kube

WATCHED = (
    "serviceorders",
    "networkservices",
    "networkslices",
    "alarms",
    "troubletickets",
    "eventsubscriptions",
    "devices",
    "links",
)
INFORMERS = hub.INFORMERS
Extension = Callable[[web.Application, dict[str, Informer]], list[Any]]


async def healthz(request: web.Request) -> web.Response:
    ready = all(i.synced.is_set() for i in request.app[INFORMERS].values())
    return web.json_response({"ready": ready}, status=200 if ready else 503)


def _background(kube: Kube, extensions: list[Extension]) -> Any:
    async def context(app: web.Application) -> AsyncIterator[None]:
        informers = app[INFORMERS]
        workers: list[Any] = [
            ordercontrol.OrderController(kube, informers).run(),
            ticketcontrol.TicketController(kube, informers).run(),
            notifier.Notifier(kube, informers).run(),
        ]
        for extend in extensions:
            workers += extend(app, informers)
        workers += [i.run() for i in informers.values()]
        tasks = [asyncio.create_task(w) for w in workers]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        close = getattr(kube, "close", None)
        if close is not None:
            await close()

    return context


def build(kube: Kube, *, controllers: bool = True) -> web.Application:
    """The application; `controllers=False` serves the API only (unit tests)."""
    app = web.Application(middlewares=[telemetry.measure, errors.tmf_errors, auth.authenticate])
    app[auth.KUBE] = kube
    app[INFORMERS] = {plural: Informer(kube, plural) for plural in WATCHED}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", telemetry.metrics)
    app[consoleapi.STREAMS] = set()
    for module in (ordering, inventory, alarmtasks, tickets, hub, console, consoleapi):
        app.router.add_routes(module.routes())
    if controllers:
        app.cleanup_ctx.append(_background(kube, [consoleapi.follow]))
    return app


def tls(cert: str | None, key: str | None, client_ca: str | None) -> ssl.SSLContext | None:
    """HTTPS with `cert`/`key`; with `client_ca`, client certificates signed by it are
    accepted as identities (the cluster's client CA: the one in the kube-system ConfigMap
    extension-apiserver-authentication, `client-ca-file`)."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def serve(
    *, kubeconfig: str | None, host: str, port: int, ssl_context: ssl.SSLContext | None = None
) -> int:
    from intentloop_api.kubeclient import KubeClient, load_connection
    from intentloop_operator import logs

    logs.configure()
    kube = KubeClient(load_connection(kubeconfig))
    web.run_app(
        build(kube), host=host, port=port, print=None, access_log=None, ssl_context=ssl_context
    )
    return 0
