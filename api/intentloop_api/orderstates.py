"""TMF641 lifecycle, decided from the intents' own status (no I/O here).

An item is `acknowledged` until it is applied, `inProgress` until its intent is realised
(a NetworkService Ready — or Degraded: active, SLA not met — at the generation the item
asked for; a NetworkSlice Admitted; a deleted intent gone), `completed`, or `failed` with
the intent's own reason. The order follows its items: completed when all completed,
failed when all failed, partial when some of each, cancelled on request.
"""

from __future__ import annotations

from typing import Any

FINAL = frozenset({"completed", "failed", "cancelled", "rejected", "partial"})
ACTIVE_PHASES = frozenset({"Ready", "Degraded"})


def _ready_reason(obj: dict[str, Any]) -> tuple[str, str]:
    status = obj.get("status") or {}
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            return str(c.get("reason", "")), str(c.get("message", ""))
    return str(status.get("phase", "")), str(status.get("reason", ""))


def item_outcome(item: dict[str, Any], state: dict[str, Any], obj: dict[str, Any] | None) -> Any:
    """The item's next state dict, given its intent now (None: absent)."""
    if item["action"] == "delete":
        return {**state, "state": "completed"} if obj is None else state
    if obj is None:
        return state
    status = obj.get("status") or {}
    observed = status.get("observedGeneration") or 0
    if observed < (state.get("generation") or 0):
        return state
    phase = status.get("phase", "")
    if item["kind"] == "NetworkSlice":
        if phase == "Admitted":
            return {**state, "state": "completed"}
        if phase == "Rejected":
            return {
                **state,
                "state": "failed",
                "reason": "Rejected",
                "message": str(status.get("reason", ""))[:1024],
            }
        return state
    if phase in ACTIVE_PHASES:
        return {**state, "state": "completed"}
    if phase == "Failed":
        reason, message = _ready_reason(obj)
        return {**state, "state": "failed", "reason": reason[:64], "message": message[:1024]}
    return state


def order_state(states: list[str]) -> str:
    if not states or all(s == "acknowledged" for s in states):
        return "acknowledged"
    if any(s not in FINAL for s in states):
        return "inProgress"
    if all(s == "completed" for s in states):
        return "completed"
    if all(s == "failed" for s in states):
        return "failed"
    if all(s == "cancelled" for s in states):
        return "cancelled"
    return "partial"
