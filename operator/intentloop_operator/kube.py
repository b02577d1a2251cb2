"""The few Kubernetes API calls the handlers make themselves (kopf does the rest).

The official client is blocking, so calls run in a worker thread. Secrets are read by
name only: the operator's RBAC grants `get` on named Secrets, never `list` or `watch`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import kubernetes
import urllib3


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
    config = kubernetes.client.Configuration.get_default_copy()
    # As many pooled connections as threads that make calls (the operator's executor):
    # with the default (5 per core) a start-up burst discarded connections by the hundred.
    config.connection_pool_maxsize = POOL_SIZE
    return kubernetes.client.ApiClient(config)


POOL_SIZE = 32


def core() -> Any:
    return kubernetes.client.CoreV1Api(api_client())


def custom() -> Any:
    return kubernetes.client.CustomObjectsApi(api_client())


REQUEST_TIMEOUT_S = 30
_JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def _object_path(plural: str, name: str | None, namespace: str | None, status: bool) -> str:
    path = f"/apis/{GROUP}/{VERSION}"
    if namespace is not None:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    if name is not None:
        path += f"/{name}"
    return path + ("/status" if status else "")


def request_json(
    method: str, path: str, body: Any = None, content_type: str = _JSON
) -> dict[str, Any]:
    """One API call with a JSON body and reply, bypassing the generated client's model
    (de)serialisation, which walks every value in Python and costs more than the call on
    large objects. Authentication is the client's own. Non-2xx raises `ApiException`."""
    client = api_client()
    headers = {"Accept": _JSON, "Content-Type": content_type}
    method, url, headers, _, _ = client.param_serialize(
        method=method, resource_path=path, header_params=headers, auth_settings=["BearerToken"]
    )
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    reply = client.rest_client.pool_manager.request(
        method, url, body=data, headers=headers, timeout=REQUEST_TIMEOUT_S
    )
    if not 200 <= reply.status <= 299:
        raise kubernetes.client.ApiException(
            status=reply.status, reason=reply.reason, body=reply.data.decode(errors="replace")
        ) from None
    result: dict[str, Any] = json.loads(reply.data)
    return result


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


async def list_selected(plural: str, label_selector: str) -> list[dict[str, Any]]:
    """The objects of a kind carrying the labels `label_selector` asks for ("k=v,...")."""

    def call() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = custom().list_cluster_custom_object(
            GROUP, VERSION, plural, label_selector=label_selector
        )["items"]
        return items

    return await asyncio.to_thread(call)


async def get_object(plural: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    def call() -> dict[str, Any] | None:
        try:
            return request_json("GET", _object_path(plural, name, namespace, False))
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
            return request_json("POST", _object_path(plural, None, namespace, False), body)
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
    """A JSON merge patch of the object (or of its status subresource)."""
    path = _object_path(plural, name, namespace, status)
    return await asyncio.to_thread(request_json, "PATCH", path, patch, MERGE_PATCH)


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


_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
WATCH_TIMEOUT_S = 240
RELIST_DELAY_S = 1.0


def follow_metadata(
    plural: str, deliver: Callable[[str, dict[str, Any]], None], stop: threading.Event
) -> None:
    """List, then watch, only the metadata of a cluster-scoped kind, forever (until `stop`).

    `deliver(type, metadata)` gets "SYNC" for every object of each (re-)list, then
    ADDED / MODIFIED / DELETED. The API server sends `PartialObjectMetadata`, so following
    a kind whose objects are large (DeviceConfig) costs neither side their bodies. Blocking:
    run it in a thread of its own; an expired resourceVersion or a broken stream re-lists.
    """
    api = custom()
    while not stop.is_set():
        try:
            listing = api.list_cluster_custom_object(
                GROUP, VERSION, plural, _preload_content=False, _headers={"Accept": _METADATA_LIST}
            )
            body = json.loads(listing.data)
            version = body["metadata"]["resourceVersion"]
            for item in body.get("items") or []:
                deliver("SYNC", item["metadata"])
            while not stop.is_set():
                version = _watch_once(api, plural, version, deliver, stop)
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, OSError, _Gone):
            stop.wait(RELIST_DELAY_S)
        except ValueError:  # a reply we cannot read: start over
            stop.wait(RELIST_DELAY_S)


class _Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


def _watch_once(
    api: Any,
    plural: str,
    version: str,
    deliver: Callable[[str, dict[str, Any]], None],
    stop: threading.Event,
) -> str:
    started = time.monotonic()
    stream = api.list_cluster_custom_object(
        GROUP,
        VERSION,
        plural,
        watch=True,
        resource_version=version,
        allow_watch_bookmarks=True,
        timeout_seconds=WATCH_TIMEOUT_S,
        _preload_content=False,
        _headers={"Accept": _METADATA},
    )
    try:
        for line in stream:
            if stop.is_set():
                break
            event = json.loads(line)
            kind, obj = event.get("type"), event.get("object", {})
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Gone()
                raise ValueError(obj.get("message", "watch error"))
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                deliver(kind, obj["metadata"])
    finally:
        stream.release_conn()
    if time.monotonic() - started < 1 and not stop.is_set():
        stop.wait(RELIST_DELAY_S)  # a server closing at once must not make us spin
    return version
