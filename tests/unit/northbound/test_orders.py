"""TMF641 orders: translation checked as a whole, the lifecycle decided from the intents,
and the controller carrying an order out against the in-memory API server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from intentloop_api import errors, orderforms, orderstates
from intentloop_api.informers import Informer
from intentloop_api.kubeclient import KubeError
from intentloop_api.ordercontrol import ORDER_LABEL, OrderController
from tests.unit.northbound.conftest import ENDS, TENANT, obj
from tests.unit.northbound.fakekube import FakeKube


def item(i: int, action: str = "add", name: str = "svc", **chars: Any) -> dict[str, Any]:
    characteristics = [
        {"name": k, "value": v}
        for k, v in {"bandwidthMbps": 10, "endpoints": ENDS, **chars}.items()
    ]
    service: dict[str, Any] = {
        "serviceSpecification": {"id": "l2-p2p"},
        "serviceCharacteristic": characteristics,
    }
    service["name" if action == "add" else "id"] = name
    return {"id": str(i), "action": action, "service": service}


def test_an_order_translates_to_intents_with_the_sla_and_slice_in_their_places() -> None:
    items = orderforms.translate(
        {"serviceOrderItem": [item(1, maxLatencyMs=5, sliceRef="gold", protection="disjoint")]},
        TENANT,
    )
    assert items == [
        {
            "id": "1",
            "action": "add",
            "kind": "NetworkService",
            "name": "svc",
            "service": {
                "endpoints": ENDS,
                "bandwidthMbps": 10,
                "sla": {"maxLatencyMs": 5.0},
                "protection": "disjoint",
                "sliceRef": {"name": "gold"},
            },
        }
    ]


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"serviceOrderItem": []}, "serviceOrderItem"),
        (
            {"serviceOrderItem": [item(1, bandwidthMbps=-1)]},
            "serviceOrderItem[0].service.serviceCharacteristic[bandwidthMbps]",
        ),
        (
            {"serviceOrderItem": [item(1), item(2, colour="red")]},
            "serviceOrderItem[1].service.serviceCharacteristic[colour]",
        ),
        ({"serviceOrderItem": [item(1), item(1, name="other")]}, "serviceOrderItem[1].id"),
        ({"serviceOrderItem": [item(1), item(2)]}, "serviceOrderItem[1].service"),
        (
            {"serviceOrderItem": [item(1, endpoints=ENDS[:1])]},
            "serviceOrderItem[0].service.serviceCharacteristic[endpoints]",
        ),
        (
            {"serviceOrderItem": [item(1, "delete", name="tenant-b.x")]},
            "serviceOrderItem[0].service.id",
        ),
        ({"serviceOrderItem": [{**item(1), "action": "move"}]}, "serviceOrderItem[0].action"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field(order: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.ApiError) as refused:
        orderforms.translate(order, TENANT)
    assert refused.value.status == 400
    assert refused.value.message.startswith(field + ":"), refused.value.message


def test_a_modify_keeps_what_it_does_not_change() -> None:
    current = {"svc": {"bandwidthMbps": 10, "endpoints": ENDS, "maxLatencyMs": 3}}
    change = {
        "id": "1",
        "action": "modify",
        "service": {
            "id": f"{TENANT}.svc",
            "serviceCharacteristic": [{"name": "bandwidthMbps", "value": 50}],
        },
    }
    [modify] = orderforms.translate({"serviceOrderItem": [change]}, TENANT, current)
    assert modify["service"]["bandwidthMbps"] == 50
    assert modify["service"]["sla"] == {"maxLatencyMs": 3.0}


@pytest.mark.parametrize(
    ("states", "order"),
    [
        (["acknowledged", "acknowledged"], "acknowledged"),
        (["completed", "inProgress"], "inProgress"),
        (["completed", "completed"], "completed"),
        (["failed", "failed"], "failed"),
        (["completed", "failed"], "partial"),
        (["cancelled", "completed"], "partial"),
        (["cancelled"], "cancelled"),
    ],
)
def test_the_order_state_follows_its_items(states: list[str], order: str) -> None:
    assert orderstates.order_state(states) == order


def test_an_item_completes_only_at_the_generation_it_asked_for() -> None:
    add = {"id": "1", "action": "add", "kind": "NetworkService", "name": "svc"}
    asked = {"id": "1", "state": "inProgress", "generation": 2}
    old = {"metadata": {}, "status": {"phase": "Ready", "observedGeneration": 1}}
    assert orderstates.item_outcome(add, asked, old)["state"] == "inProgress"
    failed = {
        "metadata": {},
        "status": {
            "phase": "Failed",
            "observedGeneration": 2,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "NoPath", "message": "no path r1-r9"}
            ],
        },
    }
    outcome = orderstates.item_outcome(add, asked, failed)
    assert (outcome["state"], outcome["reason"]) == ("failed", "NoPath")


def _controller(kube: FakeKube) -> tuple[OrderController, dict[str, Informer]]:
    informers = {
        p: Informer(kube, p) for p in ("serviceorders", "networkservices", "networkslices")
    }
    return OrderController(kube, informers), informers


async def _sync(informers: dict[str, Informer]) -> None:
    for informer in informers.values():
        await informer._relist()


async def test_the_controller_carries_an_order_out_and_completes_it(kube: FakeKube) -> None:
    order = kube.add(
        "serviceorders",
        obj(
            "ServiceOrder",
            "order-1",
            TENANT,
            {
                "items": [
                    {
                        "id": "1",
                        "action": "add",
                        "kind": "NetworkService",
                        "name": "new",
                        "service": {"endpoints": ENDS, "bandwidthMbps": 5},
                    },
                    {"id": "2", "action": "delete", "kind": "NetworkService", "name": "web"},
                ]
            },
        ),
    )
    controller, informers = _controller(kube)
    await _sync(informers)
    await controller.reconcile(informers["serviceorders"].cache[f"{TENANT}/order-1"])
    base = f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}"
    created = kube.objects[f"{base}/networkservices/new"]
    assert created["metadata"]["labels"] == {ORDER_LABEL: "order-1"}
    assert f"{base}/networkservices/web" not in kube.objects
    status = kube.objects[f"{base}/serviceorders/order-1"]["status"]
    assert status["state"] == "inProgress" and status["startDate"]
    assert [i["state"] for i in status["items"]] == ["inProgress", "inProgress"]
    created["status"] = {"phase": "Ready", "observedGeneration": 1}
    await _sync(informers)
    await controller.reconcile(informers["serviceorders"].cache[f"{TENANT}/order-1"])
    status = kube.objects[f"{base}/serviceorders/order-1"]["status"]
    assert status["state"] == "completed" and status["completionDate"]
    assert order["metadata"]["name"] == "order-1"


async def test_a_cancelled_order_removes_what_it_added_and_not_yet_done(kube: FakeKube) -> None:
    kube.add(
        "serviceorders",
        obj(
            "ServiceOrder",
            "order-2",
            TENANT,
            {
                "cancellationRequested": True,
                "items": [
                    {
                        "id": "1",
                        "action": "add",
                        "kind": "NetworkService",
                        "name": "half",
                        "service": {"endpoints": ENDS, "bandwidthMbps": 5},
                    }
                ],
            },
            {"state": "inProgress", "items": [{"id": "1", "state": "inProgress"}]},
        ),
    )
    kube.add("networkservices", obj("NetworkService", "half", TENANT, {}, {"phase": "Pending"}))
    controller, informers = _controller(kube)
    await _sync(informers)
    await controller.reconcile(informers["serviceorders"].cache[f"{TENANT}/order-2"])
    base = f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}"
    assert f"{base}/networkservices/half" not in kube.objects
    assert kube.objects[f"{base}/serviceorders/order-2"]["status"]["state"] == "cancelled"


def test_a_slice_is_ordered_with_its_own_characteristics() -> None:
    order = {
        "serviceOrderItem": [
            {
                "id": "s",
                "action": "add",
                "service": {
                    "name": "gold",
                    "serviceSpecification": {"id": "slice"},
                    "serviceCharacteristic": [
                        {"name": "profile", "value": "urllc"},
                        {"name": "endpoints", "value": ENDS},
                        {"name": "guaranteedBandwidthMbps", "value": 100},
                        {"name": "maxLatencyMs", "value": 2},
                    ],
                },
            }
        ]
    }
    [made] = orderforms.translate(order, TENANT)
    assert made["kind"] == "NetworkSlice" and "service" not in made
    assert made["slice"] == {
        "profile": "urllc",
        "endpoints": ENDS,
        "guaranteedBandwidthMbps": 100,
        "maxLatencyMs": 2.0,
    }
    order["serviceOrderItem"][0]["service"]["serviceCharacteristic"].append(
        {"name": "bandwidthMbps", "value": 5}
    )
    with pytest.raises(errors.ApiError, match=r"serviceCharacteristic\[bandwidthMbps\]"):
        orderforms.translate(order, TENANT)


async def test_an_intent_change_wakes_only_the_open_orders_about_it(kube: FakeKube) -> None:
    controller, _ = _controller(kube)
    spec = {"items": [{"id": "1", "action": "add", "kind": "NetworkService", "name": "web"}]}
    await controller._order_changed("ADDED", obj("ServiceOrder", "open", TENANT, spec))
    await controller._order_changed(
        "ADDED", obj("ServiceOrder", "done", TENANT, spec, {"state": "completed"})
    )
    while not controller.queue.empty():
        controller.queue.get_nowait()
    controller.pending.clear()
    await controller._intent_changed("MODIFIED", obj("NetworkService", "web", TENANT, {}))
    await controller._intent_changed("MODIFIED", obj("NetworkService", "other", TENANT, {}))
    assert controller.pending == {f"{TENANT}/open"}
    await controller._order_changed(
        "MODIFIED", obj("ServiceOrder", "open", TENANT, spec, {"state": "completed"})
    )
    assert controller.open_orders == {}


async def test_one_order_is_in_one_workers_hands_at_a_time(kube: FakeKube) -> None:
    controller, informers = _controller(kube)
    informers["serviceorders"].cache[f"{TENANT}/o"] = obj("ServiceOrder", "o", TENANT, {})
    running, release, calls = asyncio.Event(), asyncio.Event(), []

    async def reconcile(order: dict[str, Any]) -> None:
        calls.append(len(controller.active))
        running.set()
        await release.wait()

    controller.reconcile = reconcile  # type: ignore[method-assign]
    task = asyncio.create_task(controller.run())
    controller._enqueue(f"{TENANT}/o")
    await running.wait()
    controller._enqueue(f"{TENANT}/o")  # woken again while in hand
    for _ in range(20):
        await asyncio.sleep(0)
    assert calls == [1]  # not taken by a second worker meanwhile
    release.set()
    for _ in range(50):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert calls == [1, 1]  # taken up again once its worker was done


async def test_an_api_server_hiccup_does_not_fail_an_item(kube: FakeKube) -> None:
    kube.add(
        "serviceorders",
        obj(
            "ServiceOrder",
            "order-3",
            TENANT,
            {
                "items": [
                    {
                        "id": "1",
                        "action": "add",
                        "kind": "NetworkService",
                        "name": "later",
                        "service": {"endpoints": ENDS, "bandwidthMbps": 5},
                    }
                ]
            },
        ),
    )
    controller, informers = _controller(kube)
    await _sync(informers)
    real = kube.request

    async def unavailable(method: str, path: str, **kw: Any) -> dict[str, Any]:
        if method == "POST":
            raise KubeError(503, {"message": "etcd leader changed"})
        return await real(method, path, **kw)

    kube.request = unavailable  # type: ignore[method-assign]
    with pytest.raises(KubeError):
        await controller.reconcile(informers["serviceorders"].cache[f"{TENANT}/order-3"])
    kube.request = real  # type: ignore[method-assign]
    await controller.reconcile(informers["serviceorders"].cache[f"{TENANT}/order-3"])
    status = kube.objects[
        f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}/serviceorders/order-3"
    ]["status"]
    assert [i["state"] for i in status["items"]] == ["inProgress"]
