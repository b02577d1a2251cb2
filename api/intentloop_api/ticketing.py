"""Which trouble tickets the loop keeps open (no I/O here).

One ticket per root-cause alarm that affects services, in each namespace where it affects
some: the tenant sees, in its own namespace, a ticket listing its own affected services
and naming the root cause; the NOC sees them all. The ticket is named after the root cause
(`rc-<alarm>`), so the same fault never opens two tickets in one namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOOP = "intentloop"


@dataclass(frozen=True)
class WantedTicket:
    namespace: str
    name: str
    root: tuple[str, str]  # (namespace, name) of the root-cause Alarm
    services: tuple[str, ...]  # names in `namespace`
    severity: str
    description: str


def ticket_name(root_name: str) -> str:
    return f"rc-{root_name}"[:253]


def _affected(root: dict[str, Any], alarms: list[dict[str, Any]]) -> dict[str, set[str]]:
    meta = root["metadata"]
    by_ns: dict[str, set[str]] = {}
    for ref in (root.get("status") or {}).get("affectedServices") or []:
        by_ns.setdefault(ref.get("namespace") or meta["namespace"], set()).add(ref["name"])
    for alarm in alarms:
        status = alarm.get("status") or {}
        ref = status.get("rootCauseRef") or {}
        root_ns = ref.get("namespace") or alarm["metadata"]["namespace"]
        if status.get("state") != "active" or (root_ns, ref.get("name")) != (
            meta["namespace"],
            meta["name"],
        ):
            continue
        for svc in status.get("affectedServices") or []:
            ns = svc.get("namespace") or alarm["metadata"]["namespace"]
            by_ns.setdefault(ns, set()).add(svc["name"])
    return by_ns


def wanted(alarms: list[dict[str, Any]]) -> list[WantedTicket]:
    """The tickets that active root-cause alarms call for."""
    out = []
    for root in alarms:
        status = root.get("status") or {}
        if not status.get("isRootCause") or status.get("state") != "active":
            continue
        meta = root["metadata"]
        source = status.get("source") or {}
        for ns, names in sorted(_affected(root, alarms).items()):
            listed = ", ".join(sorted(names))
            out.append(
                WantedTicket(
                    namespace=ns,
                    name=ticket_name(meta["name"]),
                    root=(meta["namespace"], meta["name"]),
                    services=tuple(sorted(names)),
                    severity=str(status.get("perceivedSeverity", "major")),
                    description=f"{status.get('probableCause', 'fault')} on "
                    f"{source.get('kind', '')} {source.get('name', '')}: affects {listed}"[:1024],
                )
            )
    return out


def is_open(ticket: dict[str, Any]) -> bool:
    state = (ticket.get("status") or {}).get("state", "acknowledged")
    return state in {"acknowledged", "inProgress"}
