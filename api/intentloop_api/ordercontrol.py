"""The order controller: carries out stored ServiceOrders, in the component's own name.

Triggered by watches (an order changed, or an intent an open order is about changed), it
applies each acknowledged item once (a NetworkService or NetworkSlice created, replaced or
deleted, labelled with the order so that a restart mid-way recognises its own work) and
moves items and order through the TMF641 states as the intents' status says. Orders are
CRs: after a restart the controller lists them and carries on where it stopped.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from intentloop_api import orderstates, telemetry
from intentloop_api.informers import Informer, key
from intentloop_api.kubeclient import MERGE_PATCH, Kube, KubeError, path
from intentloop_api.ordering import PLURALS, intent_body
from intentloop_operator import logs

ORDER_LABEL = "intentloop.io/service-order"
ITEM_ANNOTATION = "intentloop.io/service-order-item"
WORKERS = 4
log = logs.get(__name__)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OrderController:
    def __init__(self, kube: Kube, informers: dict[str, Informer]) -> None:
        self.kube = kube
        self.orders = informers["serviceorders"]
        self.intents = {kind: informers[plural] for kind, plural in PLURALS.items()}
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.pending: set[str] = set()
        self.active: set[str] = set()
        self.again: set[str] = set()
        # (namespace, intent name) → open orders about it: an intent's change wakes those only
        self.open_orders: dict[tuple[str, str], set[str]] = {}
        self.orders.listeners.append(self._order_changed)
        for informer in self.intents.values():
            informer.listeners.append(self._intent_changed)

    def _enqueue(self, order_key: str) -> None:
        if order_key not in self.pending:
            self.pending.add(order_key)
            self.queue.put_nowait(order_key)

    async def _order_changed(self, kind: str, obj: dict[str, Any]) -> None:
        order_key, ns = key(obj), obj["metadata"].get("namespace", "")
        done = kind == "DELETED" or (obj.get("status") or {}).get("state") in orderstates.FINAL
        for item in (obj.get("spec") or {}).get("items", []):
            about = self.open_orders.setdefault((ns, item["name"]), set())
            if done:
                about.discard(order_key)
                if not about:
                    del self.open_orders[(ns, item["name"])]
            else:
                about.add(order_key)
        if not done:
            self._enqueue(order_key)

    async def _intent_changed(self, kind: str, obj: dict[str, Any]) -> None:
        ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        for order_key in list(self.open_orders.get((ns, name), ())):
            self._enqueue(order_key)

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(WORKERS)))

    async def _worker(self) -> None:
        """Orders are carried out side by side, but one order by one worker at a time: a
        key woken while in hand is taken up again once its worker is done."""
        while True:
            order_key = await self.queue.get()
            self.pending.discard(order_key)
            if order_key in self.active:
                self.again.add(order_key)
                continue
            order = self.orders.cache.get(order_key)
            if order is None:
                continue
            self.active.add(order_key)
            try:
                await self.reconcile(order)
            except Exception as e:  # the worker must outlive any one order
                log.warning("order.reconcile.failed", order=order_key, error=repr(e))
                await asyncio.sleep(1)
                self.again.add(order_key)
            finally:
                self.active.discard(order_key)
            if order_key in self.again:
                self.again.discard(order_key)
                self._enqueue(order_key)

    def _intent(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.intents[kind].cache.get(f"{ns}/{name}")

    async def _apply(self, order: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """Carry out one item; its new state (inProgress, or failed with the reason)."""
        ns, order_name = order["metadata"]["namespace"], order["metadata"]["name"]
        plural = PLURALS[item["kind"]]
        body = intent_body(item, ns)
        body["metadata"]["labels"] = {ORDER_LABEL: order_name}
        body["metadata"]["annotations"] = {ITEM_ANNOTATION: item["id"]}
        target = path(plural, namespace=ns, name=item["name"])
        state: dict[str, Any] = {"id": item["id"], "state": "inProgress"}
        try:
            if item["action"] == "add":
                done = await self._create(plural, ns, body, order_name)
            elif item["action"] == "modify":
                patch = {
                    "metadata": {k: body["metadata"][k] for k in ("labels", "annotations")},
                    "spec": body["spec"],
                }
                done = await self.kube.request(
                    "PATCH", target, body=patch, content_type=MERGE_PATCH
                )
            else:
                await self.kube.request("DELETE", target)
                return state
        except KubeError as e:
            if e.status >= 500 or e.status == 429:
                raise  # the API server's trouble, not the item's: tried again
            if item["action"] == "delete" and e.status == 404:
                return state
            reason = str(e.body.get("reason") or "ApiError")
            return {**state, "state": "failed", "reason": reason[:64], "message": e.message[:1024]}
        state["generation"] = done["metadata"].get("generation", 1)
        return state

    async def _create(
        self, plural: str, ns: str, body: dict[str, Any], order_name: str
    ) -> dict[str, Any]:
        try:
            return await self.kube.request("POST", path(plural, namespace=ns), body=body)
        except KubeError as e:
            if e.status != 409:
                raise
            existing = await self.kube.request(
                "GET", path(plural, namespace=ns, name=body["metadata"]["name"])
            )
            if (existing["metadata"].get("labels") or {}).get(ORDER_LABEL) != order_name:
                raise  # someone else's: the item fails, naming the conflict
            return existing

    async def _cancel(self, order: dict[str, Any], states: dict[str, Any]) -> None:
        ns = order["metadata"]["namespace"]
        for item in order["spec"]["items"]:
            st = states[item["id"]]
            if st["state"] in orderstates.FINAL:
                continue
            states[item["id"]] = {**st, "state": "cancelled"}
            if item["action"] == "add" and st["state"] == "inProgress":
                target = path(PLURALS[item["kind"]], namespace=ns, name=item["name"])
                try:
                    await self.kube.request("DELETE", target)
                except KubeError as e:
                    if e.status != 404:
                        raise

    async def reconcile(self, order: dict[str, Any]) -> None:
        status = dict(order.get("status") or {})
        if status.get("state") in orderstates.FINAL:
            return
        ns = order["metadata"]["namespace"]
        states = {s["id"]: s for s in status.get("items") or []}
        for item in order["spec"]["items"]:
            states.setdefault(item["id"], {"id": item["id"], "state": "acknowledged"})
        if order["spec"].get("cancellationRequested"):
            await self._cancel(order, states)
        for item in order["spec"]["items"]:
            st = states[item["id"]]
            if st["state"] == "acknowledged":
                st = states[item["id"]] = await self._apply(order, item)
            if st["state"] == "inProgress":
                obj = self._intent(item["kind"], ns, item["name"])
                states[item["id"]] = orderstates.item_outcome(item, st, obj)
        await self._write(order, status, [states[i["id"]] for i in order["spec"]["items"]])

    async def _write(
        self, order: dict[str, Any], old: dict[str, Any], items: list[dict[str, Any]]
    ) -> None:
        state = orderstates.order_state([s["state"] for s in items])
        new = {**old, "state": state, "items": items}
        if state != "acknowledged" and not new.get("startDate"):
            new["startDate"] = _now()
        if state in orderstates.FINAL and not new.get("completionDate"):
            new["completionDate"] = _now()
            telemetry.ORDERS_TOTAL.labels(state).inc()
        new["observedGeneration"] = order["metadata"].get("generation")
        if new == old:
            return
        meta = order["metadata"]
        written = await self.kube.request(
            "PATCH",
            path("serviceorders", namespace=meta["namespace"], name=meta["name"], sub="status"),
            body={"status": new},
            content_type=MERGE_PATCH,
        )
        # The watch brings the same object later; keep the cache ahead so that a reconcile
        # in between does not apply an item twice.
        self.orders.cache[key(written)] = written
