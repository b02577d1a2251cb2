"""Kubernetes-style status conditions, computed purely.

`lastTransitionTime` changes only when a condition's status flips, so `kubectl wait` and
people reading `describe` see when something actually happened, not when we last looked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from intentloop_intents.resources.meta import Condition, ConditionStatus

# Reasons are constants: people and tools match on them.
REASON_RECONCILED = "Reconciled"
REASON_CONNECTING = "Connecting"
REASON_UNREACHABLE = "Unreachable"
REASON_CREDENTIALS = "CredentialsUnavailable"
REASON_HOST_KEY = "HostKeyMismatch"
REASON_INVALID_SPEC = "InvalidSpec"


def set_condition(
    conditions: Sequence[dict[str, Any]],
    *,
    type: str,
    status: bool | None,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return `conditions` with `type` set; other conditions are kept as they are."""
    value = (
        ConditionStatus.UNKNOWN
        if status is None
        else (ConditionStatus.TRUE if status else ConditionStatus.FALSE)
    )
    out: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != type:
            out.append(dict(existing))
            continue
        found = True
        transition = existing.get("lastTransitionTime")
        if existing.get("status") != value.value or transition is None:
            transition = now.isoformat()
        out.append(_condition(type, value, reason, message, generation, transition))
    if not found:
        out.append(_condition(type, value, reason, message, generation, now.isoformat()))
    return out


def _condition(
    type: str,
    value: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    transition: str,
) -> dict[str, Any]:
    cond = Condition(
        type=type,
        status=value,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=datetime.fromisoformat(transition),
    )
    return cond.model_dump(mode="json", by_alias=True, exclude_none=True)


def get(conditions: Sequence[dict[str, Any]], type: str) -> dict[str, Any] | None:
    for c in conditions:
        if c.get("type") == type:
            return c
    return None
