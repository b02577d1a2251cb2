"""Routes every change the informers see to the hub registrations that may see it.

A registration of a tenant (stored in its namespace) gets events about objects of that
namespace; a NOC registration (`allNamespaces`) gets them all. Registrations are
EventSubscription CRs, watched like everything else: a restarted component finds them and,
for each, resends the current state of what changed after its saved progress.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from intentloop_api import delivery, events
from intentloop_api.informers import Informer, key, revision
from intentloop_api.kubeclient import Kube

PLURALS = tuple(p for n in events.APIS.values() for p in n.plurals)
# The operator creates an Alarm, then writes its status: the alarm exists from then on.
WRITTEN_WITH_STATUS = frozenset({"alarms"})
KIND_OF = {"devices": "Device", "links": "Link", "networkslices": "NetworkSlice"}


class Notifier:
    def __init__(self, kube: Kube, informers: dict[str, Informer]) -> None:
        self.kube = kube
        self.informers = informers
        self.subs = informers["eventsubscriptions"]
        self.workers: dict[str, tuple[delivery.Delivery, asyncio.Task[None]]] = {}
        self.views: dict[tuple[str, str], dict[str, Any]] = {}
        self.http: aiohttp.ClientSession | None = None
        self.subs.listeners.append(self._subscription_changed)
        for plural in PLURALS:
            informers[plural].listeners.append(self._listener(plural))

    def _horizon(self, api: str) -> int:
        plurals = events.APIS[api].plurals
        return min(self.informers[p].revision for p in plurals)

    async def _subscription_changed(self, kind: str, sub: dict[str, Any]) -> None:
        k = key(sub)
        if kind == "DELETED":
            gone = self.workers.pop(k, None)
            if gone is not None:
                gone[1].cancel()
            return
        if k in self.workers:
            return
        if self.http is None:
            self.http = aiohttp.ClientSession()
        api = sub["spec"]["api"]
        worker = delivery.Delivery(self.kube, sub, self.http, lambda: self._horizon(api))
        self.workers[k] = (worker, asyncio.create_task(self._start(sub, worker)))

    async def _start(self, sub: dict[str, Any], worker: delivery.Delivery) -> None:
        notified = events.APIS[sub["spec"]["api"]]
        for plural in notified.plurals:
            await self.informers[plural].synced.wait()
        if worker.delivered_revision > 0:
            self._catch_up(sub, worker)
        await worker.run()

    def _catch_up(self, sub: dict[str, Any], worker: delivery.Delivery) -> None:
        """After a restart: the current state of everything changed after the saved
        progress (a new registration gets events from now on)."""
        notified = events.APIS[sub["spec"]["api"]]
        for plural in notified.plurals:
            for obj in list(self.informers[plural].cache.values()):
                rv = revision(obj["metadata"]["resourceVersion"])
                if rv > worker.delivered_revision and self._visible(sub, obj):
                    view = notified.view(self._typed(plural, obj))
                    for event_type, v in events.changes(notified, None, view, resync=True):
                        self._offer(sub, worker, delivery.make(notified, event_type, v, rv))

    def _typed(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "kind": KIND_OF.get(plural, obj.get("kind", ""))}

    @staticmethod
    def _visible(sub: dict[str, Any], obj: dict[str, Any]) -> bool:
        if sub["spec"].get("allNamespaces"):
            return True
        ns = obj["metadata"].get("namespace")
        return ns is None or ns == sub["metadata"]["namespace"]

    @staticmethod
    def _offer(sub: dict[str, Any], worker: delivery.Delivery, event: delivery.Event) -> None:
        if events.wanted(sub["spec"].get("query", ""), event.event_type):
            worker.put(event)

    def _listener(self, plural: str) -> Any:
        notified = events.BY_PLURAL[plural]

        async def changed(kind: str, obj: dict[str, Any]) -> None:
            k = (plural, key(obj))
            old = self.views.get(k)
            new = None if kind == "DELETED" else notified.view(self._typed(plural, obj))
            if plural in WRITTEN_WITH_STATUS and not obj.get("status"):
                new = None  # created, its status not written yet: not an alarm yet
            if new is None:
                self.views.pop(k, None)
            else:
                self.views[k] = new
            if not self.informers[plural].synced.is_set():
                return  # start-up: registrations catch up from their saved progress
            rv = revision(obj["metadata"]["resourceVersion"])
            made = events.changes(notified, old, new, resync=False)
            for sub_key, (worker, _) in list(self.workers.items()):
                sub = self.subs.cache.get(sub_key)
                if sub is None or sub["spec"]["api"] != notified.api or not self._visible(sub, obj):
                    continue
                for event_type, view in made:
                    self._offer(sub, worker, delivery.make(notified, event_type, view, rv))

        return changed

    async def run(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            for _, task in self.workers.values():
                task.cancel()
            if self.http is not None:
                await self.http.close()
