from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intentloop_intents import conditions

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_transition_time_moves_only_when_the_status_flips() -> None:
    first = conditions.set_condition(
        [], type="Ready", status=False, reason="Connecting", message="", generation=1, now=T0
    )
    same = conditions.set_condition(
        first,
        type="Ready",
        status=False,
        reason="Unreachable",
        message="timeout",
        generation=2,
        now=T0 + timedelta(minutes=1),
    )
    flipped = conditions.set_condition(
        same,
        type="Ready",
        status=True,
        reason="Reconciled",
        message="",
        generation=2,
        now=T0 + timedelta(minutes=2),
    )
    assert same[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert same[0]["reason"] == "Unreachable" and same[0]["observedGeneration"] == 2
    assert flipped[0]["status"] == "True"
    assert flipped[0]["lastTransitionTime"] != first[0]["lastTransitionTime"]


def test_other_conditions_are_kept() -> None:
    both = conditions.set_condition(
        [{"type": "Admitted", "status": "True", "reason": "Fits"}],
        type="Ready",
        status=None,
        reason="Connecting",
        message="",
        generation=None,
        now=T0,
    )
    assert [c["type"] for c in both] == ["Admitted", "Ready"]
    assert conditions.get(both, "Ready")["status"] == "Unknown"  # type: ignore[index]
