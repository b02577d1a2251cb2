"""The few Kubernetes API calls the handlers make themselves (kopf does the rest).

The official client is blocking, so calls run in a worker thread. Secrets are read by
name only: the operator's RBAC grants `get` on named Secrets, never `list` or `watch`.
"""

from __future__ import annotations

import asyncio
import base64
import os
from functools import cache
from typing import Any

import kubernetes


class SecretUnavailable(Exception):
    """The referenced Secret does not exist or the operator may not read it."""


@cache
def api_client() -> Any:
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        # Read KUBECONFIG now: the client library reads it only once, at import.
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG")
        )
    return kubernetes.client.ApiClient()


def core() -> Any:
    return kubernetes.client.CoreV1Api(api_client())


def custom() -> Any:
    return kubernetes.client.CustomObjectsApi(api_client())


def _read_secret(name: str, namespace: str) -> dict[str, str]:
    try:
        secret = core().read_namespaced_secret(name, namespace)
    except kubernetes.client.ApiException as e:
        raise SecretUnavailable(f"Secret {namespace}/{name}: {e.reason} ({e.status})") from None
    data = secret.data or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


async def read_secret(name: str, namespace: str) -> dict[str, str]:
    return await asyncio.to_thread(_read_secret, name, namespace)
