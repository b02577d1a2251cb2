"""List-then-watch caches of custom resources, in the component's own name.

An `Informer` keeps every object of one plural in memory and calls its listeners with each
change (`ADDED`, `MODIFIED`, `DELETED`). When the watch expires (410 Gone) or drops, it
lists again and reports only what differs, so listeners see every object's latest state
at least once and in order per object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from intentloop_api.kubeclient import GROUP, VERSION, Kube, path
from intentloop_operator import logs

Listener = Callable[[str, dict[str, Any]], Awaitable[None]]
log = logs.get(__name__)


def revision(resource_version: str) -> int:
    """The etcd revision behind a resourceVersion (opaque by contract, an integer in every
    etcd-backed API server): used only to save delivery progress, never for correctness of
    what the API server stores."""
    try:
        return int(resource_version)
    except ValueError:
        return 0


def key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class Informer:
    def __init__(self, kube: Kube, plural: str, *, group: str = GROUP, version: str = VERSION):
        self.kube, self.plural = kube, plural
        self._path = path(plural, group=group, version=version)
        self.cache: dict[str, dict[str, Any]] = {}
        self.listeners: list[Listener] = []
        self.synced = asyncio.Event()
        self.revision = 0
        """Every change up to this resourceVersion has been passed to the listeners."""

    async def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                await listener(kind, obj)
            except Exception:  # one listener's bug must not stop the others' events
                log.exception("informer.listener.failed", plural=self.plural)

    async def _relist(self) -> str:
        reply = await self.kube.request("GET", self._path)
        fresh = {key(o): o for o in reply.get("items", [])}
        for k, obj in fresh.items():
            old = self.cache.get(k)
            self.cache[k] = obj
            if old is None or old["metadata"].get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                await self._emit("ADDED" if old is None else "MODIFIED", obj)
        for k in list(self.cache):
            if k not in fresh:
                await self._emit("DELETED", self.cache.pop(k))
        rv = str(reply["metadata"]["resourceVersion"])
        self.revision = max(self.revision, revision(rv))
        self.synced.set()
        return rv

    async def _follow(self, resource_version: str) -> None:
        async for event in self.kube.watch(self._path, resource_version=resource_version):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                return
            if kind == "BOOKMARK":
                self.revision = max(self.revision, revision(obj["metadata"]["resourceVersion"]))
                continue
            if kind == "DELETED":
                self.cache.pop(key(obj), None)
            else:
                self.cache[key(obj)] = obj
            await self._emit(str(kind), obj)
            self.revision = max(self.revision, revision(obj["metadata"]["resourceVersion"]))

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                rv = await self._relist()
                backoff = 0.2
                await self._follow(rv)
            except Exception as e:  # a cache must outlive any one failure: list again
                log.warning("informer.watch.failed", plural=self.plural, error=str(e))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
