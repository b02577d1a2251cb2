"""Every TMF operation the component implements, request and response checked against
the TM Forum v4 specifications (openapi-core), with the component's own event payloads."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from intentloop_api import alarmviews, delivery, events
from tests import tmf_specs
from tests.unit.northbound.conftest import ENDS, TENANT
from tests.unit.northbound.fakekube import FakeKube

SO = "/tmf-api/serviceOrdering/v4"
SI = "/tmf-api/serviceInventory/v4"
RI = "/tmf-api/resourceInventoryManagement/v4"
AL = "/tmf-api/alarmManagement/v4"
TT = "/tmf-api/troubleTicket/v4"

pytestmark = pytest.mark.usefixtures("specs")


@pytest.fixture
def specs() -> None:
    if tmf_specs.specs_dir() is None:
        pytest.skip("the TM Forum specifications (../shared/tmf) are not here")


async def exchange(
    client: TestClient[Any, Any],
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    token: str = "tenant-token",  # noqa: S107 - a name in the fake,
) -> Any:
    """One call, validated both ways against the spec; the reply's status, JSON, headers."""
    reply = await client.request(
        method, path, json=body, params=query or {}, headers={"Authorization": f"Bearer {token}"}
    )
    data = await reply.json() if reply.status != 204 else None
    headers = {k: v for k, v in reply.headers.items() if k.startswith("X-")}
    tmf_specs.validate(method, path, query or {}, body, reply.status, headers, data)
    return reply.status, data, reply.headers


def order_item(action: str = "add", name: str = "new-one", mbps: Any = 5) -> dict[str, Any]:
    return {
        "id": "1",
        "action": action,
        "service": {
            "name": name,
            "serviceSpecification": {"id": "l2-p2p"},
            "serviceCharacteristic": [
                {"name": "bandwidthMbps", "value": mbps},
                {"name": "endpoints", "value": ENDS},
            ],
        },
    }


async def test_service_ordering_operations_conform(client: TestClient[Any, Any]) -> None:
    status, order, _ = await exchange(
        client, "POST", f"{SO}/serviceOrder", {"serviceOrderItem": [order_item()]}
    )
    assert status == 201 and order["state"] == "acknowledged"
    status, _, headers = await exchange(client, "GET", f"{SO}/serviceOrder")
    assert status == 200 and headers["X-Total-Count"] == "1"
    status, one, _ = await exchange(client, "GET", f"{SO}/serviceOrder/{order['id']}")
    assert one["id"] == order["id"]
    status, cancel, _ = await exchange(
        client,
        "POST",
        f"{SO}/cancelServiceOrder",
        {"serviceOrder": {"id": order["id"]}, "cancellationReason": "changed my mind"},
    )
    assert status == 201 and cancel["serviceOrder"]["id"] == order["id"]
    await exchange(client, "GET", f"{SO}/cancelServiceOrder")
    await exchange(client, "GET", f"{SO}/cancelServiceOrder/{order['id']}")
    status, _, _ = await exchange(client, "DELETE", f"{SO}/serviceOrder/{order['id']}")
    assert status == 204


async def test_a_refused_order_conforms_and_names_the_field(client: TestClient[Any, Any]) -> None:
    status, error, _ = await exchange(
        client, "POST", f"{SO}/serviceOrder", {"serviceOrderItem": [order_item(mbps=0)]}
    )
    assert status == 400
    assert "serviceOrderItem[0].service.serviceCharacteristic[bandwidthMbps]" in error["message"]
    status, error, _ = await exchange(client, "GET", f"{SO}/serviceOrder", token="forged")
    assert status == 401 and error["code"] == "UNAUTHORIZED"


async def test_inventory_operations_conform(client: TestClient[Any, Any]) -> None:
    _, services, headers = await exchange(client, "GET", f"{SI}/service")
    assert headers["X-Result-Count"] == "2"
    assert {s["id"]: s["state"] for s in services} == {
        f"{TENANT}.web": "active",
        f"{TENANT}.gold": "active",
    }
    await exchange(client, "GET", f"{SI}/service/{TENANT}.web")
    _, resources, _ = await exchange(client, "GET", f"{RI}/resource", token="noc-token")
    assert {r["id"]: r["operationalState"] for r in resources} == {
        "device.r1": "enable",
        "link.r1-r2": "disable",
    }
    await exchange(client, "GET", f"{RI}/resource/link.r1-r2", token="noc-token")


async def test_alarm_operations_conform(client: TestClient[Any, Any], kube: FakeKube) -> None:
    status, alarms, _ = await exchange(client, "GET", f"{AL}/alarm", token="noc-token")
    assert [a["isRootCause"] for a in alarms] == [True, False]  # root causes first
    ident = alarmviews.number(TENANT, "service-web-impacted")
    status, one, _ = await exchange(client, "GET", f"{AL}/alarm/{ident}")
    assert one["externalAlarmId"] == f"{TENANT}.service-web-impacted"
    assert one["parentAlarm"][0]["name"] == "intentloop-system.link-r1-r2-linkdown"
    pattern = [{"id": ident}]
    for task, extra in (
        ("ackAlarms", {"ackUserId": "x", "ackSystemId": "bss"}),
        ("unAckAlarms", {"ackUserId": "x", "ackSystemId": "bss"}),
        ("commentAlarms", {"comment": {"comment": "looking"}}),
        (
            "clearAlarms",
            {
                "clearUserId": "x",
                "clearSystemId": "bss",
                "alarmClearedTime": "2026-12-06T01:00:00Z",
            },
        ),
    ):
        status, done, _ = await exchange(
            client, "POST", f"{AL}/{task}", {"alarmPattern": pattern, **extra}
        )
        assert status == 201 and done["state"] == "done"
    stored = kube.objects[
        f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}/alarms/service-web-impacted"
    ]["spec"]
    assert stored["comments"][0]["userId"] == f"system:serviceaccount:{TENANT}:bss"
    assert stored["clearedBy"] == f"system:serviceaccount:{TENANT}:bss"


async def test_trouble_ticket_operations_conform(client: TestClient[Any, Any]) -> None:
    status, tickets, _ = await exchange(client, "GET", f"{TT}/troubleTicket")
    assert [t["status"] for t in tickets] == ["inProgress"]
    await exchange(client, "GET", f"{TT}/troubleTicket/{tickets[0]['id']}")
    status, made, _ = await exchange(
        client,
        "POST",
        f"{TT}/troubleTicket",
        {
            "description": "slow at night",
            "severity": "minor",
            "ticketType": "complaint",
            "relatedEntity": [
                {"id": f"{TENANT}.web", "role": "affectedService", "@referredType": "Service"}
            ],
        },
    )
    assert status == 201 and made["status"] == "acknowledged"


async def test_hub_operations_conform(client: TestClient[Any, Any]) -> None:
    for base, token in (
        (SO, "tenant-token"),
        (SI, "tenant-token"),
        (AL, "tenant-token"),
        (TT, "tenant-token"),
        (RI, "noc-token"),
    ):
        status, sub, _ = await exchange(
            client, "POST", f"{base}/hub", {"callback": "http://bss.example/listener"}, token=token
        )
        assert status == 201 and sub["callback"] == "http://bss.example/listener"
        status, _, _ = await exchange(client, "DELETE", f"{base}/hub/{sub['id']}", token=token)
        assert status == 204
    # A tenant may not be told about the inventory it may not read.
    status, error, _ = await exchange(client, "POST", f"{RI}/hub", {"callback": "http://x/y"})
    assert status == 403 and error["message"].startswith("callback:")


def test_event_payloads_conform(kube: FakeKube) -> None:
    for notified in events.APIS.values():
        plural = notified.plurals[0]
        objs = [o for p, o in kube.objects.items() if f"/{plural}/" in p]
        if plural == "serviceorders":
            objs = [
                {
                    "metadata": {
                        "name": "order-1",
                        "namespace": TENANT,
                        "creationTimestamp": "2026-12-06T01:00:00Z",
                    },
                    "spec": {"items": []},
                    "status": {"state": "completed"},
                }
            ]
        view = notified.view({**objs[0], "kind": objs[0].get("kind", "")})
        for event_type, v in events.changes(
            notified, {**view, notified.state_key: "?"}, view, resync=False
        ):
            made = delivery.make(notified, event_type, v, 1)
            path = (
                "/tmf-api/"
                + {
                    "serviceOrdering": "serviceOrdering/v4",
                    "serviceInventory": "serviceInventory/v4",
                    "resourceInventory": "resourceInventoryManagement/v4",
                    "alarm": "alarmManagement/v4",
                    "troubleTicket": "troubleTicket/v4",
                }[notified.api]
            )
            path += events.listener_path(event_type)
            tmf_specs.validate("POST", path, {}, made.body, 201, {}, None, check_response=False)
