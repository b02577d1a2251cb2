"""TMF notifications: which events a change of one object makes (no I/O here).

Each notified API has its own views and event names; an event carries the object's TMF
view (`event: {<resource>: view}`) and the object's resourceVersion, the order in which
the API server made the changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from intentloop_api import alarmviews, inventory, orderviews, tickets

View = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Notified:
    """One TMF API's notifications: the plurals behind it, its view, its event names."""

    api: str
    plurals: tuple[str, ...]
    resource: str  # the key in `event`, and the event names' prefix
    state_key: str  # the attribute whose change is a StateChangeEvent
    view: View


def _service_view(obj: dict[str, Any]) -> dict[str, Any]:
    kind = "NetworkSlice" if obj.get("kind") == "NetworkSlice" else "NetworkService"
    return inventory.service({**obj, "kind": kind})


def _resource_view(obj: dict[str, Any]) -> dict[str, Any]:
    view = inventory.RESOURCE_KINDS["link" if obj.get("kind") == "Link" else "device"][1]
    return view(obj)


APIS: dict[str, Notified] = {
    n.api: n
    for n in (
        Notified("serviceOrdering", ("serviceorders",), "serviceOrder", "state", orderviews.render),
        Notified(
            "serviceInventory",
            ("networkservices", "networkslices"),
            "service",
            "state",
            _service_view,
        ),
        Notified(
            "resourceInventory",
            ("devices", "links"),
            "resource",
            "operationalState",
            _resource_view,
        ),
        Notified("alarm", ("alarms",), "alarm", "state", alarmviews.alarm),
        Notified("troubleTicket", ("troubletickets",), "troubleTicket", "status", tickets.ticket),
    )
}
BY_PLURAL = {plural: n for n in APIS.values() for plural in n.plurals}


def _name(resource: str, change: str) -> str:
    return resource[0].upper() + resource[1:] + change + "Event"


def changes(
    notified: Notified, old: dict[str, Any] | None, new: dict[str, Any] | None, *, resync: bool
) -> list[tuple[str, dict[str, Any]]]:
    """(eventType, view) for one object going from `old` to `new` views (None: absent).
    `resync`: the old state is unknown (after a restart), the object changed since."""
    r, key = notified.resource, notified.state_key
    if new is None:
        return [(_name(r, "Delete"), old)] if old is not None else []
    if old is None and not resync:
        return [(_name(r, "Create"), new)]
    out: list[tuple[str, dict[str, Any]]] = []
    if old is None or old.get(key) != new.get(key):
        out.append((_name(r, "StatusChange" if r == "troubleTicket" else "StateChange"), new))
        if r == "troubleTicket" and new.get("status") == "resolved":
            out.append((_name(r, "Resolved"), new))
    elif old != new:
        out.append((_name(r, "AttributeValueChange"), new))
    return out


def wanted(query: str, event_type: str) -> bool:
    """A registration's query, e.g. `eventType=ServiceOrderStateChangeEvent,...`."""
    for clause in filter(None, query.split("&")):
        field, _, values = clause.partition("=")
        if field.strip() == "eventType" and event_type not in values.split(","):
            return False
    return True


def listener_path(event_type: str) -> str:
    """`ServiceOrderStateChangeEvent` → `/listener/serviceOrderStateChangeEvent`."""
    return "/listener/" + event_type[0].lower() + event_type[1:]
