"""The BSS flow end to end, through `intentloop api` only: a tenant's BSS and the NOC
register listeners, the tenant orders two services, events arrive, the inventory shows
them active; a link fails in the lab → alarm and ticket events; repaired → ticket resolved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, Lab, Operator, wait_for
from tests.e2e.northbound import Caller, Listener
from tests.e2e.tmf.test_orders import ORDERS, item

SERVICES = "/tmf-api/serviceInventory/v4/service"
ALARMS = "/tmf-api/alarmManagement/v4"
TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
HUBS = {
    "serviceOrdering": "/tmf-api/serviceOrdering/v4/hub",
    "serviceInventory": "/tmf-api/serviceInventory/v4/hub",
    "alarm": "/tmf-api/alarmManagement/v4/hub",
    "troubleTicket": "/tmf-api/troubleTicket/v4/hub",
}


@pytest.fixture
def listeners() -> Iterator[dict[str, Listener]]:
    made = {"tenant": Listener(), "noc": Listener()}
    yield made
    for listener in made.values():
        listener.stop()


Hubs = list[tuple[Caller, str]]


@pytest.fixture
def hubs() -> Iterator[Hubs]:
    """Registrations made by the test, removed by their owners afterwards (the NOC's live in
    the component's namespace, not in the test's)."""
    made: Hubs = []
    yield made
    for caller, path in made:
        assert caller.call("DELETE", path).status_code == 204


def register(hubs: Hubs, caller: Caller, listener: Listener, *apis: str) -> None:
    for name in apis:
        reply = caller.post(HUBS[name], {"callback": listener.url})
        assert reply.status_code == 201, reply.text
        hubs.append((caller, f"{HUBS[name]}/{reply.json()['id']}"))


def _services_active(bss: Caller) -> int:
    reply = bss.get(SERVICES, params={"state": "active", "category": "NetworkService"})
    assert reply.status_code == 200, reply.text
    return int(reply.headers["X-Total-Count"])


@pytest.mark.e2e
def test_the_bss_flow_as_tenant_and_noc(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    bss: Caller,
    the_noc: Caller,
    namespace: str,
    listeners: dict[str, Listener],
    hubs: Hubs,
) -> None:
    tenant, noc_listener = listeners["tenant"], listeners["noc"]
    register(hubs, bss, tenant, "serviceOrdering", "serviceInventory", "alarm", "troubleTicket")
    register(hubs, the_noc, noc_listener, "alarm", "troubleTicket")
    # A tenant may not register for what it may not read.
    refused = bss.post("/tmf-api/resourceInventoryManagement/v4/hub", {"callback": tenant.url})
    assert refused.status_code == 403, refused.text

    order = {
        "serviceOrderItem": [
            item(1, "add", "flow-a", "r1", "r2"),
            item(2, "add", "flow-b", "r1", "r3"),
        ]
    }
    created = bss.post(ORDERS, order).json()
    oid = created["id"]
    wait_for(
        lambda: any(
            o["state"] == "completed"
            for o in tenant.of("ServiceOrderStateChangeEvent", "serviceOrder", oid)
        ),
        timeout=60,
        what="order completed event",
        on_fail=lambda: str(tenant.types()),
    )
    states = [o["state"] for o in tenant.of("ServiceOrderStateChangeEvent", "serviceOrder", oid)]
    assert states == ["inProgress", "completed"], states
    for name in ("flow-a", "flow-b"):
        assert any(
            s["state"] == "active"
            for s in tenant.of("ServiceStateChangeEvent", "service", f"{namespace}.{name}")
        )
    assert _services_active(bss) == 2

    lab.link("r1", "r2", up=False)
    try:
        ticket = wait_for(
            lambda: _ticket_opened(tenant, namespace),
            timeout=60,
            what="ticket opened for the tenant",
            on_fail=lambda: str(tenant.types()),
        )
        entities = {(e["role"], e["id"]) for e in ticket["relatedEntity"]}
        roots = [e for e in ticket["relatedEntity"] if e["role"] == "rootCause"]
        assert [e["name"] for e in roots] == ["intentloop-system.link-r1-r2-linkdown"]
        assert ("affectedService", f"{namespace}.flow-a") in entities
        # The tenant's alarm is created, then correlated (perhaps a moment later).
        assert wait_for(
            lambda: tenant.of_type("AlarmCreateEvent", "alarm"),
            timeout=30,
            what="tenant alarm created",
        )
        mine = wait_for(
            lambda: [a for a in alarm_events(tenant) if a["parentAlarm"]],
            timeout=30,
            what="tenant alarm event naming its root cause",
            on_fail=lambda: str(tenant.types()),
        )
        assert mine[0]["parentAlarm"][0]["name"] == "intentloop-system.link-r1-r2-linkdown"
        # The root cause reaches the NOC (it may first be raised, then correlated).
        wait_for(
            lambda: any(
                a["externalAlarmId"] == "intentloop-system.link-r1-r2-linkdown" and a["isRootCause"]
                for a in alarm_events(noc_listener)
            ),
            timeout=30,
            what="NOC root-cause alarm event",
        )
        assert the_noc.get(f"{TICKETS}/{ticket['id']}").json()["status"] == "inProgress"
        _ack_as_tenant(bss, mine[0]["id"], namespace)
    finally:
        lab.link("r1", "r2", up=True)
    resolved = wait_for(
        lambda: tenant.of("TroubleTicketResolvedEvent", "troubleTicket", ticket["id"]),
        timeout=60,
        what="ticket resolved",
    )
    assert resolved[-1]["status"] == "resolved" and resolved[-1]["resolutionDate"]
    assert wait_for(
        lambda: noc_listener.of("TroubleTicketResolvedEvent", "troubleTicket", ticket["id"]),
        timeout=30,
        what="NOC sees resolved",
    )


def alarm_events(listener: Listener) -> list[dict[str, Any]]:
    kinds = ("AlarmCreateEvent", "AlarmStateChangeEvent", "AlarmAttributeValueChangeEvent")
    return [a for kind in kinds for a in listener.of_type(kind, "alarm")]


def _ticket_opened(listener: Listener, namespace: str) -> Any:
    for t in listener.of_type("TroubleTicketCreateEvent", "troubleTicket"):
        if t["id"] == f"{namespace}.rc-link-r1-r2-linkdown":
            return t
    return None


def _ack_as_tenant(bss: Caller, alarm_id: str, namespace: str) -> None:
    reply = bss.post(
        f"{ALARMS}/ackAlarms",
        {"ackUserId": "someone-else", "ackSystemId": "bss", "alarmPattern": [{"id": alarm_id}]},
    )
    assert reply.status_code == 201, reply.text
    acked = reply.json()["ackedAlarm"]
    assert [a["id"] for a in acked] == [alarm_id]
    assert acked[0]["ackState"] == "acknowledged"
    assert acked[0]["ackUserId"] == f"system:serviceaccount:{namespace}:bss"
    # The tenant cannot acknowledge the NOC's root cause: it does not even see it.
    other = bss.post(
        f"{ALARMS}/ackAlarms",
        {"ackUserId": "x", "ackSystemId": "bss", "alarmPattern": [{"isRootCause": True}]},
    )
    assert other.status_code == 201 and other.json()["ackedAlarm"] == []
