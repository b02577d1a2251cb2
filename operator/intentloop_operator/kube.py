"""The few Kubernetes API calls the handlers make themselves (kopf does the rest).

The official client is blocking, so calls run in a worker thread. Secrets are read by
name only: the operator's RBAC grants `get` on named Secrets, never `list` or `watch`.
"""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime
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


GROUP, VERSION = "intentloop.io", "v1alpha1"


async def list_objects(plural: str) -> list[dict[str, Any]]:
    """Every object of a kind, in every namespace (intentloop kinds only)."""

    def call() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = custom().list_cluster_custom_object(GROUP, VERSION, plural)[
            "items"
        ]
        return items

    return await asyncio.to_thread(call)


async def get_object(plural: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    def call() -> dict[str, Any] | None:
        try:
            if namespace is None:
                obj: dict[str, Any] = custom().get_cluster_custom_object(
                    GROUP, VERSION, plural, name
                )
            else:
                obj = custom().get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
            return obj
        except kubernetes.client.ApiException as e:
            if e.status == 404:
                return None
            raise

    return await asyncio.to_thread(call)


class AlreadyExists(Exception):
    """Create refused because the name is taken: for allocations, the value is someone's."""


async def create_object(
    plural: str, body: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    def call() -> dict[str, Any]:
        try:
            if namespace is None:
                obj: dict[str, Any] = custom().create_cluster_custom_object(
                    GROUP, VERSION, plural, body
                )
            else:
                obj = custom().create_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, body
                )
            return obj
        except kubernetes.client.ApiException as e:
            if e.status == 409:
                raise AlreadyExists(body["metadata"]["name"]) from None
            raise

    return await asyncio.to_thread(call)


async def patch_object(
    plural: str,
    name: str,
    patch: dict[str, Any],
    namespace: str | None = None,
    *,
    status: bool = False,
) -> dict[str, Any]:
    def call() -> dict[str, Any]:
        api = custom()
        if namespace is None:
            fn = (
                api.patch_cluster_custom_object_status
                if status
                else api.patch_cluster_custom_object
            )
            obj: dict[str, Any] = fn(GROUP, VERSION, plural, name, patch)
        else:
            fn = (
                api.patch_namespaced_custom_object_status
                if status
                else api.patch_namespaced_custom_object
            )
            obj = fn(GROUP, VERSION, namespace, plural, name, patch)
        return obj

    return await asyncio.to_thread(call)


async def delete_object(plural: str, name: str, namespace: str | None = None) -> None:
    def call() -> None:
        try:
            if namespace is None:
                custom().delete_cluster_custom_object(GROUP, VERSION, plural, name)
            else:
                custom().delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
        except kubernetes.client.ApiException as e:
            if e.status != 404:
                raise

    await asyncio.to_thread(call)


async def list_namespaced(plural: str, namespace: str, selector: str) -> list[dict[str, Any]]:
    def call() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = custom().list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, label_selector=selector
        )["items"]
        return items

    return await asyncio.to_thread(call)


def ensure_peering(name: str) -> None:
    """Create kopf's ClusterKopfPeering object for HA, if it is not there yet."""
    body = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}}
    try:
        custom().create_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", body)
    except kubernetes.client.ApiException as e:
        if e.status != 409:
            raise


async def post_event(obj: dict[str, Any], *, type: str, reason: str, message: str) -> None:
    """A Kubernetes Event on `obj`, from work that runs outside a kopf handler."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    now = datetime.now(UTC)
    body = kubernetes.client.CoreV1Event(
        metadata=kubernetes.client.V1ObjectMeta(generate_name=f"{meta['name'][:200]}."),
        involved_object=kubernetes.client.V1ObjectReference(
            api_version=obj.get("apiVersion"),
            kind=obj.get("kind"),
            name=meta["name"],
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
        ),
        type=type,
        reason=reason,
        message=message[:1024],
        first_timestamp=now,
        last_timestamp=now,
        count=1,
        source=kubernetes.client.V1EventSource(component="intentloop"),
    )
    await asyncio.to_thread(core().create_namespaced_event, namespace, body)
