"""An Alarm's lifecycle: what to write to its status as the desired alarms come and go.

Kept beside `alarms` (which re-exports both functions) because it is about the stored
object, not about correlation. `merge_state` answers None whenever nothing a person could
notice changed: the loop runs every few seconds over every alarm, and writing unchanged
status would cost API calls, etcd revisions and watch events for nothing.

The dict it returns is a JSON merge patch of `status` as well as the whole status: fields
that must disappear (a cleared time once re-raised, a root cause once gone) are present
with value None, which a merge patch deletes and the API server prunes from a full write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intentloop_intents.alarms import DesiredAlarm

ACTIVE = "active"
CLEARED = "cleared"
UNACKNOWLEDGED = "unacknowledged"

# Changes to these are what X.733 calls a change of the alarm: they move `changedTime`.
_SIGNIFICANT = (
    "alarmType",
    "perceivedSeverity",
    "probableCause",
    "source",
    "isRootCause",
    "rootCauseRef",
    "correlatedAlarms",
    "affectedServices",
)


def merge_state(
    existing: Mapping[str, Any] | None, desired: DesiredAlarm | None, now: datetime
) -> dict[str, Any] | None:
    """The Alarm status to write for `desired` given the stored `existing` status.

    - new: active, raised and changed now, count 1;
    - active and identical: None;
    - active but severity or correlation changed: rewritten, changed now;
    - only the wording changed: rewritten, times kept;
    - cleared, then desired again (re-raised): active, count + 1, changed now, cleared time
      removed, acknowledgement reset (a new occurrence needs a new look); `raisedTime`
      keeps the first raise;
    - active and no longer desired: cleared, severity "cleared", cleared and changed now;
    - not desired and not active (or never stored): None.
    """
    old = dict(existing or {})
    stamp = _timestamp(now)
    was_active = old.get("state", ACTIVE) == ACTIVE and bool(old.get("raisedTime"))
    if desired is None:
        if not was_active:
            return None
        return old | {
            "state": CLEARED,
            "perceivedSeverity": CLEARED,
            "clearedTime": stamp,
            "changedTime": stamp,
        }
    fields = _fields(desired)
    if not old.get("raisedTime"):
        return fields | {
            "state": ACTIVE,
            "ackState": UNACKNOWLEDGED,
            "raisedTime": stamp,
            "changedTime": stamp,
            "clearedTime": None,
            "count": 1,
        }
    if not was_active:
        return (
            old
            | fields
            | {
                "state": ACTIVE,
                "ackState": UNACKNOWLEDGED,
                "changedTime": stamp,
                "clearedTime": None,
                "count": int(old.get("count") or 1) + 1,
            }
        )
    if all(_same(old.get(name), value) for name, value in fields.items()):
        return None
    significant = any(not _same(old.get(name), fields[name]) for name in _SIGNIFICANT)
    changed = stamp if significant else old.get("changedTime", stamp)
    return old | fields | {"changedTime": changed}


TICKET_SEVERITIES = frozenset({"critical", "major", "minor"})
TICKET_REOPEN = timedelta(minutes=5)


def opens_ticket(
    existing: Mapping[str, Any] | None, status: Mapping[str, Any], now: datetime
) -> bool:
    """Whether writing `status` over `existing` is what a NOC opens a ticket for.

    A ticket is per problem, not per event: a root cause (critical, major or minor; a
    warning informs), not expected by a maintenance window, that becomes active -- new, or
    raised again more than `TICKET_REOPEN` after it cleared (a flapping link keeps its one
    ticket), or an active alarm that has just become a root cause.
    """
    if status.get("state") != ACTIVE or not status.get("isRootCause") or status.get("expected"):
        return False
    if status.get("perceivedSeverity") not in TICKET_SEVERITIES:
        return False
    old = existing or {}
    if not old.get("raisedTime"):
        return True
    if old.get("state", ACTIVE) == ACTIVE:
        return not old.get("isRootCause") or bool(old.get("expected"))
    cleared = _parse(old.get("clearedTime"))
    return cleared is None or _aware(now) - cleared > TICKET_REOPEN


def expired(status: Mapping[str, Any], now: datetime, keep: timedelta) -> bool:
    """Whether a cleared alarm has been kept long enough to be deleted.

    Active alarms never expire. A cleared alarm without a readable cleared time falls
    back to its changed time, and without either it goes now: it cannot be aged, and
    keeping it forever would let cleared alarms pile up.
    """
    if status.get("state") != CLEARED:
        return False
    since = _parse(status.get("clearedTime")) or _parse(status.get("changedTime"))
    return since is None or since + keep <= _aware(now)


def _fields(desired: DesiredAlarm) -> dict[str, Any]:
    """The part of the status that follows from the desired alarm alone."""
    kind, name, namespace = desired.source
    root = desired.root_cause
    return {
        "alarmType": desired.alarm_type,
        "perceivedSeverity": desired.perceived_severity,
        "probableCause": desired.probable_cause,
        "specificProblem": desired.specific_problem,
        "source": _ref(kind, name, namespace),
        "isRootCause": desired.is_root_cause,
        "rootCauseRef": None if root is None else _ref("Alarm", root[1], root[0]),
        "correlatedAlarms": [_ref("Alarm", key, ns) for ns, key in desired.correlated],
        "affectedServices": [
            _ref("NetworkService", svc, ns) for ns, svc in desired.affected_services
        ],
        "crossedThresholdInformation": desired.threshold,
        "expected": True if desired.maintenance is not None else None,  # absent: not expected
        "maintenanceRef": None
        if desired.maintenance is None
        else _ref("Maintenance", desired.maintenance, None),
    }


def _ref(kind: str, name: str, namespace: str | None) -> dict[str, str]:
    ref = {"kind": kind, "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def _same(stored: Any, wanted: Any) -> bool:
    """Equal as stored: absent and None are the same; None-valued ref keys are ignored."""
    return bool(stored == wanted or _plain(stored) == _plain(wanted))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _timestamp(now: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the API server stores date-time strings."""
    return _aware(now).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, str) and value:
        try:
            return _aware(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _aware(moment: datetime) -> datetime:
    """Naive times are taken as UTC (the API server only ever hands out UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
