"""The ticket controller: opens a TroubleTicket for every root-cause alarm that affects
services (in each affected namespace), keeps its list of services current, and resolves it
when the root cause clears — or reopens it should the same root cause come back."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from intentloop_api import telemetry, ticketing
from intentloop_api.informers import Informer
from intentloop_api.kubeclient import GROUP, MERGE_PATCH, VERSION, Kube, KubeError, path
from intentloop_operator import logs

log = logs.get(__name__)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TicketController:
    def __init__(self, kube: Kube, informers: dict[str, Informer]) -> None:
        self.kube = kube
        self.alarms = informers["alarms"]
        self.tickets = informers["troubletickets"]
        self.wake = asyncio.Event()
        self.alarms.listeners.append(self._changed)
        self.tickets.listeners.append(self._changed)

    async def _changed(self, kind: str, obj: dict[str, Any]) -> None:
        self.wake.set()

    async def run(self) -> None:
        await self.alarms.synced.wait()
        await self.tickets.synced.wait()
        while True:
            self.wake.clear()
            try:
                await self.reconcile()
            except Exception as e:  # the loop must outlive any one pass
                log.warning("ticket.reconcile.failed", error=repr(e))
                await asyncio.sleep(1)
                self.wake.set()
            await self.wake.wait()

    async def reconcile(self) -> None:
        wanted = {
            (w.namespace, w.name): w for w in ticketing.wanted(list(self.alarms.cache.values()))
        }
        loop_tickets = {
            (t["metadata"]["namespace"], t["metadata"]["name"]): t
            for t in self.tickets.cache.values()
            if (t.get("spec") or {}).get("requestedBy") == ticketing.LOOP
        }
        for k, want in wanted.items():
            await self._open(want, loop_tickets.get(k))
        for k, ticket in loop_tickets.items():
            if k not in wanted and ticketing.is_open(ticket) and self._root_cleared(ticket):
                await self._status(ticket, "resolved", "the root-cause alarm cleared")

    def _root_cleared(self, ticket: dict[str, Any]) -> bool:
        """A ticket stays open while its root cause is active, even once the services were
        moved off the fault: it closes when the fault itself is gone."""
        ref = (ticket.get("spec") or {}).get("rootCauseAlarm") or {}
        root = self.alarms.cache.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        return root is None or (root.get("status") or {}).get("state") != "active"

    def _spec(self, want: ticketing.WantedTicket) -> dict[str, Any]:
        return {
            "name": f"Network fault {want.root[1]}",
            "description": want.description,
            "severity": want.severity,
            "ticketType": "networkFault",
            "rootCauseAlarm": {"kind": "Alarm", "namespace": want.root[0], "name": want.root[1]},
            "relatedServices": [
                {"kind": "NetworkService", "namespace": want.namespace, "name": n}
                for n in want.services
            ],
            "requestedBy": ticketing.LOOP,
        }

    async def _open(self, want: ticketing.WantedTicket, ticket: dict[str, Any] | None) -> None:
        if ticket is not None and ticketing.is_open(ticket):
            # While open, a ticket keeps every service the fault hit, also those since
            # moved off it: what the customer was told about stays on the ticket.
            listed = {s["name"] for s in (ticket.get("spec") or {}).get("relatedServices") or []}
            if set(want.services) <= listed:
                return
            want = dataclasses.replace(want, services=tuple(sorted(listed | set(want.services))))
        spec = self._spec(want)
        if ticket is None:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "TroubleTicket",
                "metadata": {"name": want.name, "namespace": want.namespace},
                "spec": spec,
            }
            try:
                ticket = await self.kube.request(
                    "POST", path("troubletickets", namespace=want.namespace), body=body
                )
            except KubeError as e:
                if e.status != 409:
                    raise
                return  # the watch brings it; the next pass compares
            await self._status(ticket, "inProgress", "opened by the loop for the root cause")
            return
        if ticket.get("spec") != spec:
            target = path("troubletickets", namespace=want.namespace, name=want.name)
            await self.kube.request("PATCH", target, body={"spec": spec}, content_type=MERGE_PATCH)
        if not ticketing.is_open(ticket):
            await self._status(ticket, "inProgress", "the root cause is active again")

    async def _status(self, ticket: dict[str, Any], state: str, reason: str) -> None:
        meta = ticket["metadata"]
        status: dict[str, Any] = {
            "state": state,
            "statusChangeReason": reason,
            "statusChangeDate": _now(),
        }
        status["resolutionDate"] = _now() if state == "resolved" else None
        telemetry.TICKETS_TOTAL.labels("resolved" if state == "resolved" else "opened").inc()
        written = await self.kube.request(
            "PATCH",
            path("troubletickets", namespace=meta["namespace"], name=meta["name"], sub="status"),
            body={"status": status},
            content_type=MERGE_PATCH,
        )
        self.tickets.cache[f"{meta['namespace']}/{meta['name']}"] = written
