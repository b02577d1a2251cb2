"""TMF642 Alarm Management: the Alarm custom resources as TMF Alarms, read as the caller,
and the task resources ackAlarms, unAckAlarms, clearAlarms and commentAlarms, written as
the caller (so an acknowledgement records the authenticated user: the API server's
admission policy writes `acknowledgedBy` from the request's user, whatever was sent)."""

from __future__ import annotations

import hashlib
from typing import Any

from intentloop_api import scope

BASE = "/tmf-api/alarmManagement/v4"
ALARM_TYPES = frozenset(
    {
        "communicationsAlarm",
        "processingErrorAlarm",
        "environmentalAlarm",
        "qualityOfServiceAlarm",
        "equipmentAlarm",
        "integrityViolation",
        "operationalViolation",
        "physicalViolation",
        "securityService",
        "mechanismViolation",
        "timeDomainViolation",
    }
)
RESOURCE_KINDS = {"Device": "device", "Link": "link"}


def number(namespace: str, name: str) -> int:
    """TMF642 v4.0.0 makes an Alarm's id an integer: a stable 52-bit number from the
    alarm's namespace and name (exact in JSON), resolved back by looking it up among the
    alarms the caller may read. References carry it as text, with `ns.name` as their name."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return int.from_bytes(digest[:7], "big") >> 4


def _ref(ref: dict[str, Any], default_ns: str | None) -> str:
    ns = ref.get("namespace") or default_ns
    return f"{ns}.{ref['name']}" if ns else str(ref["name"])


def _alarm_ref(ref: dict[str, Any], default_ns: str) -> dict[str, Any]:
    ident = str(number(ref.get("namespace") or default_ns, ref["name"]))
    return {
        "id": ident,
        "href": f"{BASE}/alarm/{ident}",
        "name": _ref(ref, default_ns),
        "@referredType": "Alarm",
    }


def _state(spec: dict[str, Any], status: dict[str, Any]) -> str:
    if status.get("state") == "cleared":
        return "cleared"
    cleared_by_hand = spec.get("clearedTime")
    if cleared_by_hand and cleared_by_hand >= (status.get("changedTime") or ""):
        return "cleared"
    return "updated" if (status.get("count") or 1) > 1 else "raised"


def _alarmed_object(source: dict[str, Any] | None) -> dict[str, Any]:
    if not source:
        return {"id": "unknown"}
    category = RESOURCE_KINDS.get(source.get("kind", ""))
    if category:
        ident = f"{category}.{source['name']}"
        return {"id": ident, "href": f"/tmf-api/resourceInventoryManagement/v4/resource/{ident}"}
    ident = _ref(source, None)
    return {"id": ident, "href": f"/tmf-api/serviceInventory/v4/service/{ident}"}


def _comment(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "comment": c.get("comment", ""),
        "userId": c.get("userId", ""),
        "time": c.get("time"),
        "systemId": "intentloop",
        "@type": "Comment",
    }


def alarm(obj: dict[str, Any]) -> dict[str, Any]:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    status = obj.get("status") or {}
    ns = meta["namespace"]
    ident = number(ns, meta["name"])
    kind = status.get("alarmType", "")
    affected = status.get("affectedServices") or []
    out: dict[str, Any] = {
        "id": ident,
        "href": f"{BASE}/alarm/{ident}",
        "externalAlarmId": scope.tmf_id(obj),
        "alarmType": kind if kind in ALARM_TYPES else "communicationsAlarm",
        "perceivedSeverity": status.get("perceivedSeverity", "indeterminate"),
        "probableCause": status.get("probableCause", ""),
        "specificProblem": status.get("specificProblem", ""),
        "state": _state(spec, status),
        "ackState": "acknowledged" if spec.get("acknowledged") else "unacknowledged",
        "isRootCause": bool(status.get("isRootCause")),
        "serviceAffecting": bool(affected),
        "alarmedObject": _alarmed_object(status.get("source")),
        "alarmedObjectType": (status.get("source") or {}).get("kind", ""),
        "sourceSystemId": "intentloop",
        "reportingSystemId": "intentloop",
        "affectedService": [
            {"id": _ref(s, ns), "href": f"/tmf-api/serviceInventory/v4/service/{_ref(s, ns)}"}
            for s in affected
        ],
        "correlatedAlarm": [_alarm_ref(a, ns) for a in status.get("correlatedAlarms") or []],
        "parentAlarm": [_alarm_ref(status["rootCauseRef"], ns)]
        if status.get("rootCauseRef")
        else [],
        "comment": [_comment(c) for c in spec.get("comments") or []],
        "@type": "Alarm",
    }
    times = {
        "alarmRaisedTime": status.get("raisedTime"),
        "alarmReportingTime": status.get("raisedTime"),
        "alarmChangedTime": status.get("changedTime"),
        "alarmClearedTime": status.get("clearedTime") or spec.get("clearedTime"),
        "ackUserId": spec.get("acknowledgedBy"),
        "clearUserId": spec.get("clearedBy"),
    }
    out.update({k: v for k, v in times.items() if v})
    return out
