"""The ticket controller against the in-memory API server: opened for a root cause that
hits services, kept while the fault lasts, resolved when it clears, reopened if it returns."""

from __future__ import annotations

from intentloop_api.informers import Informer
from intentloop_api.ticketcontrol import TicketController
from tests.unit.northbound.conftest import TENANT
from tests.unit.northbound.fakekube import FakeKube

ROOT = "/apis/intentloop.io/v1alpha1/namespaces/intentloop-system/alarms/link-r1-r2-linkdown"
NEW_TICKET = (
    f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}/troubletickets/rc-link-r1-r2-linkdown"
)


async def _pass(kube: FakeKube) -> TicketController:
    informers = {p: Informer(kube, p) for p in ("alarms", "troubletickets")}
    for informer in informers.values():
        await informer._relist()
    controller = TicketController(kube, informers)
    await controller.reconcile()
    return controller


async def test_a_ticket_lives_as_long_as_its_root_cause(kube: FakeKube) -> None:
    del kube.objects[NEW_TICKET]  # the seed's ticket: start with none
    await _pass(kube)
    ticket = kube.objects[NEW_TICKET]
    assert ticket["status"]["state"] == "inProgress"
    assert [s["name"] for s in ticket["spec"]["relatedServices"]] == ["web"]
    # The service moved off the fault: the root cause still active, the ticket stays.
    kube.objects[ROOT]["status"]["affectedServices"] = []
    tenant_alarm = f"/apis/intentloop.io/v1alpha1/namespaces/{TENANT}/alarms/service-web-impacted"
    kube.objects[tenant_alarm]["status"]["state"] = "cleared"
    await _pass(kube)
    assert kube.objects[NEW_TICKET]["status"]["state"] == "inProgress"
    assert [s["name"] for s in kube.objects[NEW_TICKET]["spec"]["relatedServices"]] == ["web"]
    kube.objects[ROOT]["status"]["state"] = "cleared"
    await _pass(kube)
    resolved = kube.objects[NEW_TICKET]["status"]
    assert resolved["state"] == "resolved" and resolved["resolutionDate"]
    kube.objects[ROOT]["status"].update(
        state="active",
        affectedServices=[{"kind": "NetworkService", "name": "web", "namespace": TENANT}],
    )
    await _pass(kube)
    assert kube.objects[NEW_TICKET]["status"]["state"] == "inProgress"
    assert "resolutionDate" not in kube.objects[NEW_TICKET]["status"]


async def test_a_ticket_opened_by_hand_is_left_alone(kube: FakeKube) -> None:
    kube.objects[NEW_TICKET]["spec"]["requestedBy"] = "nora"
    kube.objects[ROOT]["status"]["state"] = "cleared"
    await _pass(kube)
    assert kube.objects[NEW_TICKET]["status"]["state"] == "inProgress"
