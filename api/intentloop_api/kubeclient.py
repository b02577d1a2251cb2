"""An asyncio client for the few Kubernetes API calls the northbound component makes.

Every call a person causes is made *as that person* (Kubernetes impersonation): the API
server's RBAC decides what they may read and write and the admission policies record who
they are (an alarm acknowledgement names its author). Calls the component makes for itself
(the order and ticket controllers, hub delivery, TokenReview) carry no impersonation.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

GROUP = "intentloop.io"
VERSION = "v1alpha1"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
WATCH_LINE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Identity:
    """An authenticated user as the API server's TokenReview described them."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""

    @property
    def service_account_namespace(self) -> str | None:
        """The namespace of a ServiceAccount user (a tenant's BSS), else None."""
        parts = self.username.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2]
        return None


class KubeError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body.get('message', '')}")
        self.status = status
        self.body = body

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def causes(self) -> list[dict[str, Any]]:
        details = self.body.get("details") or {}
        return list(details.get("causes") or [])


class Kube(Protocol):
    """What handlers need of the API server (the real client, or a fake in unit tests)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        as_user: Identity | None = None,
        params: dict[str, str] | None = None,
        content_type: str = JSON,
    ) -> dict[str, Any]: ...

    def watch(self, path: str, *, resource_version: str) -> AsyncIterator[dict[str, Any]]: ...


def path(
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    sub: str | None = None,
    group: str = GROUP,
    version: str = VERSION,
) -> str:
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace is not None:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    if name is not None:
        base += f"/{name}"
    return base + (f"/{sub}" if sub else "")


@dataclass
class Connection:
    server: str
    ssl_context: ssl.SSLContext
    token: str | None = field(default=None, repr=False)


def load_connection(kubeconfig: str | None) -> Connection:
    """The component's own credentials: in-cluster ServiceAccount, or a kubeconfig file."""
    import kubernetes

    cfg = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg
        )
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
    if token and token.lower().startswith("bearer "):
        token = token[7:]
    return Connection(server=cfg.host.rstrip("/"), ssl_context=ctx, token=token or None)


class KubeClient:
    def __init__(self, connection: Connection, *, timeout_s: float = 30) -> None:
        self._conn = connection
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._conn.ssl_context, limit=32)
            # A watch event is one line: objects up to the API server's own limit fit.
            self._session = aiohttp.ClientSession(connector=connector, read_bufsize=WATCH_LINE)
        return self._session

    def _headers(self, as_user: Identity | None, content_type: str) -> dict[str, str]:
        headers = {"Accept": JSON, "Content-Type": content_type}
        if self._conn.token:
            headers["Authorization"] = f"Bearer {self._conn.token}"
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        as_user: Identity | None = None,
        params: dict[str, str] | None = None,
        content_type: str = JSON,
    ) -> dict[str, Any]:
        headers: Any = self._headers(as_user, content_type)
        if as_user is not None:
            headers = impersonation(headers, as_user)
        data = None if body is None else json.dumps(body)
        async with self._http().request(
            method,
            self._conn.server + path,
            data=data,
            headers=headers,
            params=params,
            timeout=self._timeout,
        ) as reply:
            text = await reply.text()
            ok = 200 <= reply.status <= 299
            try:
                payload: dict[str, Any] = json.loads(text) if text else {}
            except ValueError:
                if ok:
                    raise
                payload = {"message": text[:1024]}  # a proxy's or a dying server's page
            if not ok:
                raise KubeError(reply.status, payload)
            return payload

    async def watch(self, path: str, *, resource_version: str) -> AsyncIterator[dict[str, Any]]:
        """Watch events (`{type, object}`) from `resource_version` until the server ends it."""
        params = {"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "1"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=330)
        params["timeoutSeconds"] = "300"
        async with self._http().get(
            self._conn.server + path,
            headers=self._headers(None, JSON),
            params=params,
            timeout=timeout,
        ) as reply:
            if reply.status != 200:
                raise KubeError(reply.status, {"message": await reply.text()})
            async for line in reply.content:
                if line.strip():
                    yield json.loads(line)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def impersonation(headers: dict[str, str], who: Identity) -> Any:
    """Headers that make the API server act as `who` (several Impersonate-Group lines)."""
    from multidict import CIMultiDict

    out: CIMultiDict[str] = CIMultiDict(headers)
    out["Impersonate-User"] = who.username
    for group in who.groups:
        if group != "system:authenticated":
            out.add("Impersonate-Group", group)
    return out
