"""What the northbound component (TM Forum Open APIs) stores: ServiceOrder, TroubleTicket
and EventSubscription. Kubernetes stays the single source of truth: a BSS order, a ticket
and a hub registration are custom resources like every other intent or record, so a
restart of the component loses none of them and `kubectl` shows them all.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from intentloop_intents.resources.meta import (
    CamelModel,
    Conditions,
    K8sName,
    ObjectRef,
    ShortText,
    StatusModel,
    Text,
    cel,
    list_map,
    validations,
)
from intentloop_intents.resources.services import NetworkServiceSpec, NetworkSliceSpec

Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")]


class OrderAction(StrEnum):
    """TMF641 ItemActionType: what an order item does to its service."""

    ADD = "add"
    MODIFY = "modify"
    DELETE = "delete"


class OrderedKind(StrEnum):
    NETWORK_SERVICE = "NetworkService"
    NETWORK_SLICE = "NetworkSlice"


class ServiceOrderItem(CamelModel):
    """One TMF641 serviceOrderItem, already translated to the intent it creates, changes or
    removes (the translation is checked as a whole before the order is stored)."""

    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.action == 'delete' || self.kind != 'NetworkService' || has(self.service)",
                "an add or modify of a NetworkService needs service",
                field_path=".service",
            ),
            cel(
                "self.action == 'delete' || self.kind != 'NetworkSlice' || has(self.slice)",
                "an add or modify of a NetworkSlice needs slice",
                field_path=".slice",
            ),
        )
    }

    id: ShortText = Field(min_length=1)
    """The item's id in the order, as the BSS gave it."""
    action: OrderAction
    """add, modify or delete."""
    kind: OrderedKind = OrderedKind.NETWORK_SERVICE
    """The intent the item is about: NetworkService or NetworkSlice."""
    name: K8sName
    """Name of the intent in the order's namespace."""
    service: NetworkServiceSpec | None = None
    """The NetworkService's spec (add, modify)."""
    slice: NetworkSliceSpec | None = None
    """The NetworkSlice's spec (add, modify)."""


class ServiceOrderSpec(CamelModel):
    items: list[ServiceOrderItem] = Field(
        min_length=1, max_length=100, json_schema_extra=list_map("id")
    )
    """The order's items, in the order the BSS gave them."""
    external_id: ShortText = ""
    """The BSS's own reference for the order."""
    description: Text = ""
    category: ShortText = ""
    priority: ShortText = ""
    requested_by: Text = ""
    """The authenticated user who placed the order, recorded by the northbound component."""
    cancellation_requested: bool = False
    """Set by cancelServiceOrder: items not yet completed are cancelled."""
    cancellation_reason: Text = ""


class OrderState(StrEnum):
    """TMF641 ServiceOrderStateType / ServiceOrderItemStateType (the states used here)."""

    ACKNOWLEDGED = "acknowledged"
    REJECTED = "rejected"
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"
    CANCELLED = "cancelled"


class OrderItemStatus(StatusModel):
    id: ShortText
    state: OrderState = OrderState.ACKNOWLEDGED
    reason: ShortText = ""
    """Why the item failed, in TMF terms (e.g. the intent's condition reason)."""
    message: Text = ""
    generation: int | None = None
    """The intent's generation the item asked for: done once the operator has observed it."""


class ServiceOrderStatus(StatusModel):
    state: OrderState = OrderState.ACKNOWLEDGED
    """acknowledged, inProgress, completed, failed, partial, cancelled."""
    items: list[OrderItemStatus] = Field(default_factory=list, json_schema_extra=list_map("id"))
    start_date: datetime | None = None
    completion_date: datetime | None = None
    observed_generation: int | None = None
    conditions: Conditions


class TicketStatusType(StrEnum):
    """TMF621 TroubleTicketStatusType (the states used here)."""

    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "inProgress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class TroubleTicketSpec(CamelModel):
    """Opened by the loop for a root-cause alarm that affects services, or by hand."""

    name: Text = ""
    description: Text = Field(min_length=1)
    severity: ShortText = "major"
    ticket_type: ShortText = "networkFault"
    root_cause_alarm: ObjectRef | None = None
    """The root-cause Alarm the loop opened this ticket for (none for a ticket by hand)."""
    related_services: list[ObjectRef] = Field(default_factory=list, max_length=1000)
    """The services (NetworkServices) the fault affects."""
    requested_by: Text = ""
    """Who opened the ticket: the authenticated user, or the loop."""


class TroubleTicketStatus(StatusModel):
    state: TicketStatusType = TicketStatusType.ACKNOWLEDGED
    status_change_reason: Text = ""
    status_change_date: datetime | None = None
    resolution_date: datetime | None = None
    observed_generation: int | None = None
    conditions: Conditions


class NotifiedApi(StrEnum):
    """The TMF Open API a hub registration was made on (each API has its own /hub)."""

    SERVICE_ORDERING = "serviceOrdering"
    SERVICE_INVENTORY = "serviceInventory"
    RESOURCE_INVENTORY = "resourceInventory"
    ALARM = "alarm"
    TROUBLE_TICKET = "troubleTicket"


class EventSubscriptionSpec(CamelModel):
    """A TMF hub registration: events of `api` are POSTed to `callback`/listener/<event>."""

    api: NotifiedApi
    callback: Url
    query: Text = ""
    """The TMF query of the registration, e.g. `eventType=ServiceOrderStateChangeEvent`."""
    all_namespaces: bool = False
    """Whether the subscriber may read every namespace (the NOC); otherwise events about
    objects in the subscription's own namespace only."""
    owner: Text = ""
    """The authenticated user who registered, recorded by the northbound component."""


class EventSubscriptionStatus(StatusModel):
    delivered: int = 0
    """Events delivered so far."""
    failures: int = 0
    """Consecutive failed attempts to deliver the oldest pending event."""
    last_delivered_time: datetime | None = None
    last_error: Text = ""
    delivered_revision: int = 0
    """Every change up to this resourceVersion (an etcd revision) has been delivered: a
    restarted component delivers the current state of what changed after it."""
    observed_generation: int | None = None
    conditions: Conditions
