"""Start the operator: logging, metrics, kopf settings, then kopf's reactor.

Handlers are registered by importing their modules (see `HANDLER_MODULES`).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from intentloop_operator import kube, logs, metrics

PEERING_LIFETIME_S = int(os.environ.get("INTENTLOOP_PEERING_LIFETIME", "10"))

HANDLER_MODULES = (
    "intentloop_operator.watching",
    "intentloop_operator.devices",
    "intentloop_operator.slices",
    "intentloop_operator.services",
    "intentloop_operator.telemetry",
    "intentloop_operator.alarming",
    "intentloop_operator.driftcheck",
    "intentloop_operator.planning",
    "intentloop_operator.ports",
    "intentloop_operator.draining",
)


@kopf.on.startup(id="settings")
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Bookkeeping in status (kept by the CRD schema), not annotations: GitOps tools own
    # metadata and spec; only status is ours. Halves the PATCHes per object too.
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.kopf.diffbase")
    settings.posting.level = 20  # INFO and above become Kubernetes Events
    settings.posting.loggers = False  # only explicit kopf.info/warn events (cheaper)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.connect_timeout = 10
    settings.queueing.error_delays = (1, 2, 5, 10, 20, 30)
    # A deleted Device waits for its probe timer to stop; when a probe is in flight, kopf
    # looks again only after this long (its default, 60 s, kept deleted devices for a minute).
    settings.background.cancellation_polling = 2
    # HA: a replica that stops refreshing its peering record is considered gone after this
    # long, and a standby takes over (kopf's default is 60 s).
    settings.peering.lifetime = PEERING_LIFETIME_S
    # Kubernetes client calls run in threads: a pool big enough that slow device calls
    # elsewhere never starve status writes (the default is cores + 4).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=kube.POOL_SIZE))
    # Device sessions (ncclient, paramiko, gRPC) live in threads that wait for the GIL each
    # time a reply arrives; at the default 5 ms switch interval a NETCONF RPC of a few
    # handoffs waits tens of ms behind a busy event loop. Hand the GIL over sooner.
    sys.setswitchinterval(float(os.environ.get("INTENTLOOP_SWITCH_INTERVAL_S", "0.0005")))
    metrics.mark_healthy(True)


@kopf.on.login(id="login")
def login(**kwargs: Any) -> Any:
    """In a pod: the service account. Elsewhere: the kubeconfig named by --kubeconfig."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.cleanup(id="cleanup")
async def cleanup(**_: Any) -> None:
    metrics.mark_healthy(False)


def run(
    *,
    kubeconfig: str | None,
    metrics_host: str,
    metrics_port: int,
    peering: str | None,
    priority: int | None,
) -> int:
    logs.configure()
    if kubeconfig:
        os.environ["KUBECONFIG"] = kubeconfig
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    if peering is not None:
        kube.ensure_peering(peering)
    server = metrics.serve(metrics_port, metrics_host)
    log = logs.get("intentloop.operator")
    log.info("operator.starting", metrics=f"http://127.0.0.1:{server.server_port}/metrics")
    try:
        asyncio.run(
            kopf.operator(
                clusterwide=True,
                standalone=peering is None,
                peering_name=peering,
                # Equal priorities make every peer pause; a random one elects one active.
                priority=priority if priority is not None else secrets.randbelow(1_000_000),
            )
        )
    finally:
        server.shutdown()
    return 0
