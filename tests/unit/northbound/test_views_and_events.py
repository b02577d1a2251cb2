"""Lists, who sees what, tickets wanted, events made and delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from intentloop_api import delivery, events, ticketing
from tests.unit.northbound.conftest import OTHER, TENANT
from tests.unit.northbound.fakekube import FakeKube

SERVICES = "/tmf-api/serviceInventory/v4/service"
ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_lists_page_filter_and_count(client: TestClient[Any, Any]) -> None:
    reply = await client.get(
        SERVICES,
        params={"limit": "1", "offset": "1", "fields": "state"},
        headers=bearer("noc-token"),
    )
    assert reply.headers["X-Total-Count"] == "3" and reply.headers["X-Result-Count"] == "1"
    [only] = await reply.json()
    assert set(only) == {"id", "href", "@type", "state"}
    reply = await client.get(
        SERVICES, params={"state": "inactive,terminated"}, headers=bearer("noc-token")
    )
    assert [s["id"] for s in await reply.json()] == [f"{OTHER}.theirs"]
    reply = await client.get(
        SERVICES, params={"serviceCharacteristic.name": "vlan"}, headers=bearer("noc-token")
    )
    assert [s["id"] for s in await reply.json()] == [f"{TENANT}.web"]
    reply = await client.get(SERVICES, params={"limit": "-2"}, headers=bearer("noc-token"))
    assert reply.status == 400 and (await reply.json())["message"].startswith("limit:")


async def test_a_tenant_sees_its_namespace_only_and_the_noc_sees_all(
    client: TestClient[Any, Any], kube: FakeKube
) -> None:
    mine = await (await client.get(SERVICES, headers=bearer("tenant-token"))).json()
    assert {s["id"].split(".")[0] for s in mine} == {TENANT}
    everyone = await (await client.get(SERVICES, headers=bearer("noc-token"))).json()
    assert {s["id"].split(".")[0] for s in everyone} == {TENANT, OTHER}
    refused = await client.get(f"{SERVICES}/{OTHER}.theirs", headers=bearer("tenant-token"))
    assert refused.status == 403 and (await refused.json())["reason"] == "Forbidden"
    # Every call a tenant caused was made as the tenant.
    assert all(who is not None for method, path, who in kube.calls if "/networkservices" in path)


async def test_ordering_in_another_namespace_is_refused_before_anything_is_stored(
    client: TestClient[Any, Any], kube: FakeKube
) -> None:
    before = set(kube.objects)
    order = {
        "relatedParty": [
            {"id": OTHER, "role": "customer", "@type": "RelatedParty", "@referredType": "Namespace"}
        ],
        "serviceOrderItem": [{"id": "1", "action": "delete", "service": {"id": f"{OTHER}.theirs"}}],
    }
    reply = await client.post(ORDERS, json=order, headers=bearer("tenant-token"))
    assert reply.status == 403
    assert set(kube.objects) == before


def _alarm(ns: str, name: str, **status: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": ns, "name": name}, "status": status}


def test_one_ticket_per_root_cause_in_each_affected_namespace() -> None:
    root_ref = {"kind": "Alarm", "namespace": "intentloop-system", "name": "link-down"}
    alarms = [
        _alarm(
            "intentloop-system",
            "link-down",
            isRootCause=True,
            state="active",
            probableCause="linkDown",
            source={"kind": "Link", "name": "r1-r2"},
            affectedServices=[{"name": "a", "namespace": "t1"}],
        ),
        _alarm(
            "t2",
            "impacted-b",
            isRootCause=False,
            state="active",
            rootCauseRef=root_ref,
            affectedServices=[{"name": "b"}],
        ),
        _alarm(
            "t3",
            "cleared-c",
            isRootCause=False,
            state="cleared",
            rootCauseRef=root_ref,
            affectedServices=[{"name": "c"}],
        ),
        _alarm("intentloop-system", "lonely", isRootCause=True, state="active"),
    ]
    wanted = ticketing.wanted(alarms)
    assert [(w.namespace, w.name, w.services) for w in wanted] == [
        ("t1", "rc-link-down", ("a",)),
        ("t2", "rc-link-down", ("b",)),
    ]
    assert wanted[0].description == "linkDown on Link r1-r2: affects a"


def test_events_follow_the_changes_of_one_object() -> None:
    tickets = events.APIS["troubleTicket"]
    opened = {"id": "t.x", "status": "inProgress"}
    resolved = {"id": "t.x", "status": "resolved"}
    assert events.changes(tickets, None, opened, resync=False) == [
        ("TroubleTicketCreateEvent", opened)
    ]
    assert [e for e, _ in events.changes(tickets, opened, resolved, resync=False)] == [
        "TroubleTicketStatusChangeEvent",
        "TroubleTicketResolvedEvent",
    ]
    assert events.changes(tickets, resolved, None, resync=False) == [
        ("TroubleTicketDeleteEvent", resolved)
    ]
    assert [e for e, _ in events.changes(tickets, None, opened, resync=True)] == [
        "TroubleTicketStatusChangeEvent"
    ]
    assert events.wanted("eventType=TroubleTicketResolvedEvent", "TroubleTicketResolvedEvent")
    assert not events.wanted("eventType=TroubleTicketResolvedEvent", "TroubleTicketCreateEvent")
    assert events.listener_path("ServiceOrderStateChangeEvent") == (
        "/listener/serviceOrderStateChangeEvent"
    )


async def test_delivery_retries_in_order_until_the_listener_answers(kube: FakeKube) -> None:
    got: list[str] = []
    failures = {"left": 3}

    async def listener(request: web.Request) -> web.Response:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=503)
        got.append((await request.json())["event"]["serviceOrder"]["state"])
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/bss/listener/serviceOrderStateChangeEvent", listener)
    async with TestServer(app) as server:
        sub = kube.add(
            "eventsubscriptions",
            {
                "metadata": {"name": "hub-1", "namespace": TENANT},
                "spec": {"api": "serviceOrdering", "callback": str(server.make_url("/bss"))},
            },
        )
        async with aiohttp.ClientSession() as http:
            worker = delivery.Delivery(kube, sub, http, lambda: 500)
            notified = events.APIS["serviceOrdering"]
            for rv, state in enumerate(("inProgress", "completed"), start=200):
                worker.put(
                    delivery.make(
                        notified, "ServiceOrderStateChangeEvent", {"id": "o", "state": state}, rv
                    )
                )
            task = asyncio.create_task(worker.run())
            path = f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}/eventsubscriptions/hub-1"
            for _ in range(100):  # progress is saved at most once a second
                if kube.objects[path].get("status", {}).get("deliveredRevision") == 500:
                    break
                await asyncio.sleep(0.05)
            task.cancel()
    assert got == ["inProgress", "completed"]
    saved = kube.objects[path]["status"]
    assert saved["deliveredRevision"] == 500 and saved["failures"] == 0
