"""TMF641 through `intentloop api` against the real API server, lab and operator: a tenant's
BSS orders services with its own Kubernetes token; RBAC decides, orders are CRs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, Operator, wait_for
from tests.e2e.northbound import Api, Caller, tenant_bss

ORDERS = "/tmf-api/serviceOrdering/v4/serviceOrder"


@pytest.fixture
def other_tenant(cluster: Cluster, api: Api) -> Iterator[Caller]:
    ns = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", ns)
    yield tenant_bss(cluster, api, ns)
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def item(i: int, action: str, name: str, a: str, b: str, mbps: Any = 5) -> dict[str, Any]:
    return {
        "id": str(i),
        "action": action,
        "service": {
            "name": name,
            "serviceSpecification": {"id": "l2-p2p"},
            "serviceCharacteristic": [
                {"name": "bandwidthMbps", "value": mbps},
                {
                    "name": "endpoints",
                    "value": [
                        {"device": a, "interface": "eth2"},
                        {"device": b, "interface": "eth2"},
                    ],
                },
            ],
        },
    }


def _state(caller: Caller, ident: str) -> str:
    reply = caller.get(f"{ORDERS}/{ident}")
    assert reply.status_code == 200, reply.text
    return str(reply.json()["state"])


@pytest.mark.e2e
def test_a_tenant_orders_two_services_and_the_order_completes_when_both_are_ready(
    cluster: Cluster, operator: Operator, bss: Caller, the_noc: Caller, namespace: str
) -> None:
    order = {
        "externalId": "bss-1",
        "serviceOrderItem": [
            item(1, "add", "north-a", "r1", "r2"),
            item(2, "add", "north-b", "r6", "r2"),
        ],
    }
    reply = bss.post(ORDERS, order)
    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created["state"] == "acknowledged" and created["id"].startswith(f"{namespace}.")
    wait_for(
        lambda: _state(bss, created["id"]) == "completed",
        timeout=60,
        what="order completed",
        on_fail=lambda: bss.get(f"{ORDERS}/{created['id']}").text,
    )
    done = bss.get(f"{ORDERS}/{created['id']}").json()
    assert {i["state"] for i in done["serviceOrderItem"]} == {"completed"}
    assert done["startDate"] and done["completionDate"]
    for name in ("north-a", "north-b"):
        svc = cluster.custom.get_namespaced_custom_object(
            "intentloop.io", "v1alpha1", namespace, "networkservices", name
        )
        assert svc["status"]["phase"] == "Ready"
    # The NOC sees the tenant's order among everyone's; the requester is recorded.
    seen = the_noc.get(ORDERS, params={"externalId": "bss-1"}).json()
    assert created["id"] in {o["id"] for o in seen}
    stored = cluster.custom.get_namespaced_custom_object(
        "intentloop.io", "v1alpha1", namespace, "serviceorders", created["id"].split(".", 1)[1]
    )
    assert stored["spec"]["requestedBy"] == f"system:serviceaccount:{namespace}:bss"


@pytest.mark.e2e
def test_an_order_with_one_bad_item_is_refused_whole_naming_the_field(
    cluster: Cluster, bss: Caller, namespace: str
) -> None:
    order = {
        "serviceOrderItem": [
            item(1, "add", "fine-one", "r1", "r2"),
            item(2, "add", "bad-one", "r1", "r3", mbps=0),
        ]
    }
    reply = bss.post(ORDERS, order)
    assert reply.status_code == 400, reply.text
    error = reply.json()
    assert set(error) >= {"code", "reason", "message"}
    assert "serviceOrderItem[1].service.serviceCharacteristic[bandwidthMbps]" in error["message"]
    listed = cluster.custom.list_namespaced_custom_object(
        "intentloop.io", "v1alpha1", namespace, "networkservices"
    )
    assert listed["items"] == []
    assert bss.get(ORDERS).json() == []


@pytest.mark.e2e
def test_a_tenant_is_refused_outside_its_namespace_and_without_a_token(
    bss: Caller, other_tenant: Caller, namespace: str
) -> None:
    order = {
        "relatedParty": [
            {
                "id": other_tenant.namespace,
                "role": "customer",
                "@type": "RelatedParty",
                "@referredType": "Namespace",
            }
        ],
        "serviceOrderItem": [item(1, "add", "intruder", "r1", "r2")],
    }
    refused = bss.post(ORDERS, order)
    assert refused.status_code == 403, refused.text
    assert refused.json()["reason"] == "Forbidden"
    mine = bss.post(ORDERS, {"serviceOrderItem": [item(1, "add", "mine", "r1", "r2")]}).json()
    assert other_tenant.get(f"{ORDERS}/{mine['id']}").status_code == 403
    assert other_tenant.get(ORDERS).json() == []
    anonymous = Caller(bss.api, "not-a-token", None)
    assert anonymous.get(ORDERS).status_code == 401


@pytest.mark.e2e
def test_a_ticket_opened_by_hand_is_the_tenants_and_the_nocs_only(
    bss: Caller, other_tenant: Caller, the_noc: Caller, namespace: str
) -> None:
    tickets = "/tmf-api/troubleTicket/v4/troubleTicket"
    reply = bss.post(
        tickets,
        {
            "description": "the camera stream stutters at night",
            "severity": "minor",
            "ticketType": "complaint",
        },
    )
    assert reply.status_code == 201, reply.text
    ticket = reply.json()
    assert ticket["id"].startswith(f"{namespace}.") and ticket["status"] == "acknowledged"
    originator = [p["id"] for p in ticket["relatedParty"] if p["role"] == "originator"]
    assert originator == [f"system:serviceaccount:{namespace}:bss"]
    assert ticket["id"] in {t["id"] for t in the_noc.get(tickets).json()}
    assert other_tenant.get(f"{tickets}/{ticket['id']}").status_code == 403
    assert other_tenant.get(tickets).json() == []


@pytest.mark.e2e
def test_an_item_that_cannot_be_realised_fails_with_the_reason_and_the_order_is_partial(
    operator: Operator, bss: Caller
) -> None:
    bad = item(2, "add", "nowhere", "r1", "r2")
    bad["service"]["serviceCharacteristic"][1]["value"][1]["interface"] = "eth9"  # not its port
    order = bss.post(ORDERS, {"serviceOrderItem": [item(1, "add", "fine", "r1", "r2"), bad]})
    assert order.status_code == 201, order.text
    ident = order.json()["id"]
    wait_for(
        lambda: _state(bss, ident) == "partial",
        timeout=60,
        what="order partial",
        on_fail=lambda: bss.get(f"{ORDERS}/{ident}").text,
    )
    done = bss.get(f"{ORDERS}/{ident}").json()
    assert [i["state"] for i in done["serviceOrderItem"]] == ["completed", "failed"]
    assert done["errorMessage"]["reason"] == "PortNotAssigned"
    assert "r2/eth9" in done["errorMessage"]["message"]
    assert [i["id"] for i in done["errorMessage"]["serviceOrderItem"]] == ["2"]


def _completed(bss: Caller, order: dict[str, Any]) -> dict[str, Any]:
    reply = bss.post(ORDERS, order)
    assert reply.status_code == 201, reply.text
    ident = reply.json()["id"]
    wait_for(
        lambda: _state(bss, ident) == "completed",
        timeout=60,
        what=f"order {ident}",
        on_fail=lambda: bss.get(f"{ORDERS}/{ident}").text,
    )
    return dict(bss.get(f"{ORDERS}/{ident}").json())


@pytest.mark.e2e
def test_a_service_is_modified_then_deleted_by_orders(
    cluster: Cluster, operator: Operator, bss: Caller, namespace: str
) -> None:
    _completed(bss, {"serviceOrderItem": [item(1, "add", "grows", "r1", "r2")]})
    change = {
        "id": "1",
        "action": "modify",
        "service": {
            "id": f"{namespace}.grows",
            "serviceSpecification": {"id": "l2-p2p"},
            "serviceCharacteristic": [{"name": "bandwidthMbps", "value": 20}],
        },
    }
    _completed(bss, {"serviceOrderItem": [change]})
    svc = cluster.custom.get_namespaced_custom_object(
        "intentloop.io", "v1alpha1", namespace, "networkservices", "grows"
    )
    assert svc["spec"]["bandwidthMbps"] == 20
    assert svc["status"]["observedGeneration"] == svc["metadata"]["generation"] == 2
    inventory = bss.get(f"/tmf-api/serviceInventory/v4/service/{namespace}.grows").json()
    assert {"name": "bandwidthMbps", "value": 20} in inventory["serviceCharacteristic"]
    remove = {"id": "1", "action": "delete", "service": {"id": f"{namespace}.grows"}}
    _completed(bss, {"serviceOrderItem": [remove]})
    gone = bss.get(f"/tmf-api/serviceInventory/v4/service/{namespace}.grows")
    assert gone.status_code == 404
