"""An Alarm's stored lifecycle: raised, changed, cleared, re-raised, expired."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from intentloop_intents import alarmstatus
from intentloop_intents.alarms import DesiredAlarm, desired_alarms, expired, merge_state
from intentloop_intents.resources.operations import AlarmStatus
from tests.unit.closedloop.scenarios import INFRA, ring, service

T0 = datetime(2026, 11, 5, 8, 0, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stored(status: dict[str, Any] | None) -> dict[str, Any]:
    """What reading the object back from the API server gives: JSON, nulls pruned."""
    assert status is not None
    return {k: v for k, v in json.loads(json.dumps(status)).items() if v is not None}


def link_alarm(**changes: Any) -> DesiredAlarm:
    alarm = DesiredAlarm(
        key="link-r1-r2-linkdown",
        namespace=INFRA,
        alarm_type="communicationsAlarm",
        perceived_severity="major",
        probable_cause="linkDown",
        specific_problem="link r1-r2 down",
        source=("Link", "r1-r2", None),
        is_root_cause=True,
        root_cause=None,
        correlated=(("tenant-a", "service-web-serviceimpacted"),),
        affected_services=(("tenant-a", "web"),),
    )
    return dataclasses.replace(alarm, **changes)


def test_a_new_alarm_is_raised_now_once_and_fits_the_alarm_schema() -> None:
    status = merge_state(None, link_alarm(), T0)

    assert status is not None
    assert status["state"] == "active" and status["count"] == 1
    assert status["raisedTime"] == status["changedTime"] == "2026-11-05T08:00:00.000Z"
    assert status["ackState"] == "unacknowledged"
    assert status["source"] == {"kind": "Link", "name": "r1-r2"}
    assert status["correlatedAlarms"] == [
        {"kind": "Alarm", "name": "service-web-serviceimpacted", "namespace": "tenant-a"}
    ]
    assert status["affectedServices"] == [
        {"kind": "NetworkService", "name": "web", "namespace": "tenant-a"}
    ]
    model = AlarmStatus.model_validate(status)
    assert model.perceived_severity == "major" and model.is_root_cause


def test_an_object_created_without_status_is_raised_like_a_new_alarm() -> None:
    status = merge_state({}, link_alarm(), T0)
    assert status is not None and status["count"] == 1 and status["state"] == "active"


def test_an_unchanged_active_alarm_writes_nothing() -> None:
    first = stored(merge_state(None, link_alarm(), T0))
    assert merge_state(first, link_alarm(), later(5)) is None
    assert merge_state(first | {"observedGeneration": 3}, link_alarm(), later(10)) is None


def test_a_change_of_severity_or_correlation_is_written_with_a_new_changed_time() -> None:
    first = stored(merge_state(None, link_alarm(), T0))
    severity = merge_state(first, link_alarm(perceived_severity="critical"), later(5))
    root = (INFRA, "device-r2-deviceunreachable")
    correlation = merge_state(first, link_alarm(is_root_cause=False, root_cause=root), later(6))

    assert severity is not None and correlation is not None
    assert severity["perceivedSeverity"] == "critical"
    assert severity["changedTime"] == "2026-11-05T08:00:05.000Z"
    assert severity["raisedTime"] == first["raisedTime"] and severity["count"] == 1
    assert correlation["rootCauseRef"] == {
        "kind": "Alarm",
        "name": "device-r2-deviceunreachable",
        "namespace": INFRA,
    }
    assert correlation["changedTime"] == "2026-11-05T08:00:06.000Z"
    # Losing the root cause again removes the reference (None deletes it in a merge patch).
    back = merge_state(stored(correlation), link_alarm(), later(7))
    assert back is not None and back["rootCauseRef"] is None and back["isRootCause"]


def test_a_new_wording_is_written_but_is_not_a_change_of_the_alarm() -> None:
    first = stored(merge_state(None, link_alarm(), T0))
    status = merge_state(first, link_alarm(specific_problem="link r1-r2 down: LOS"), later(5))
    assert status is not None
    assert status["specificProblem"] == "link r1-r2 down: LOS"
    assert status["changedTime"] == first["changedTime"]


def test_an_alarm_no_longer_desired_is_cleared_once() -> None:
    active = stored(merge_state(None, link_alarm(), T0)) | {"observedGeneration": 2}
    cleared = merge_state(active, None, later(30))

    assert cleared is not None
    assert cleared["state"] == "cleared" and cleared["perceivedSeverity"] == "cleared"
    assert cleared["clearedTime"] == cleared["changedTime"] == "2026-11-05T08:00:30.000Z"
    assert cleared["raisedTime"] == active["raisedTime"]
    assert cleared["probableCause"] == "linkDown"  # people still see what it was
    assert cleared["observedGeneration"] == 2
    assert merge_state(stored(cleared), None, later(40)) is None
    assert merge_state(None, None, later(40)) is None


def test_a_re_raised_alarm_is_active_again_and_counts_the_occurrence() -> None:
    active = stored(merge_state(None, link_alarm(), T0)) | {"ackState": "acknowledged"}
    cleared = stored(merge_state(active, None, later(30)))
    again = merge_state(cleared, link_alarm(), later(60))

    assert again is not None
    assert again["state"] == "active" and again["perceivedSeverity"] == "major"
    assert again["count"] == 2
    assert again["changedTime"] == "2026-11-05T08:01:00.000Z"
    assert again["raisedTime"] == active["raisedTime"]
    assert again["clearedTime"] is None
    assert again["ackState"] == "unacknowledged"
    third = merge_state(
        stored(merge_state(stored(again), None, later(70))), link_alarm(), later(80)
    )
    assert third is not None and third["count"] == 3


def test_an_acknowledgement_survives_updates_while_the_alarm_stays_active() -> None:
    active = stored(merge_state(None, link_alarm(), T0)) | {"ackState": "acknowledged"}
    status = merge_state(active, link_alarm(perceived_severity="critical"), later(5))
    assert status is not None and status["ackState"] == "acknowledged"


def test_cleared_alarms_expire_after_the_retention_and_active_ones_never() -> None:
    keep = timedelta(minutes=10)
    active = stored(merge_state(None, link_alarm(), T0))
    cleared = stored(merge_state(active, None, later(60)))

    assert not expired(active, later(86400), keep)
    assert not expired(cleared, later(60 + 599), keep)
    assert expired(cleared, later(60 + 600), keep)
    naive_now = (T0 + timedelta(seconds=660)).replace(tzinfo=None)
    assert expired(cleared, naive_now, keep)
    assert expired({"state": "cleared", "changedTime": "2026-11-05T08:00:00Z"}, later(600), keep)
    assert not expired({"state": "cleared", "changedTime": "2026-11-05T08:00:00Z"}, T0, keep)
    assert expired({"state": "cleared", "clearedTime": "garbage"}, T0, keep)


def test_a_link_outage_seen_by_the_loop_raises_clears_and_re_raises_the_same_objects() -> None:
    """The operator's pass in miniature: desired alarms diffed against a store by key."""
    store: dict[tuple[str, str], dict[str, Any]] = {}
    writes: list[tuple[str, str]] = []

    def loop_pass(down: bool, now: datetime) -> None:
        topology = ring()
        topology.set_link_state("r1-r2", oper_up=not down)
        desired = {a.ref: a for a in desired_alarms([], [service("tenant-a", "web")], topology)}
        for ref in sorted(desired.keys() | store.keys()):
            status = merge_state(store.get(ref), desired.get(ref), now)
            if status is not None:
                store[ref] = stored(status)
                writes.append(ref)

    loop_pass(True, T0)
    assert len(writes) == 2  # the link and the service it cuts
    loop_pass(True, later(5))
    assert len(writes) == 2  # nothing changed: nothing written
    loop_pass(False, later(10))
    assert {s["state"] for s in store.values()} == {"cleared"}
    loop_pass(False, later(15))
    assert len(writes) == 4
    loop_pass(True, later(20))
    service_alarm = store[("tenant-a", "service-web-serviceimpacted")]
    assert service_alarm["state"] == "active" and service_alarm["count"] == 2
    assert service_alarm["rootCauseRef"]["name"] == "link-r1-r2-linkdown"


def test_a_ticket_is_per_problem_not_per_flap_and_never_for_the_expected() -> None:
    root = {"state": "active", "isRootCause": True, "perceivedSeverity": "major"}
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert alarmstatus.opens_ticket(None, root, t0)
    stored = {**root, "raisedTime": "2026-01-01T00:00:00Z"}
    assert not alarmstatus.opens_ticket(stored, root, t0)  # still the same open problem
    cleared = {**stored, "state": "cleared", "clearedTime": "2026-01-01T00:00:10Z"}
    assert not alarmstatus.opens_ticket(cleared, root, t0 + timedelta(seconds=30))  # a flap
    assert alarmstatus.opens_ticket(cleared, root, t0 + timedelta(minutes=6))  # it is back
    assert not alarmstatus.opens_ticket(None, {**root, "expected": True}, t0)
    assert not alarmstatus.opens_ticket(None, {**root, "perceivedSeverity": "warning"}, t0)
    assert not alarmstatus.opens_ticket(None, {**root, "isRootCause": False}, t0)
    was_consequence = {**stored, "isRootCause": False}
    assert alarmstatus.opens_ticket(was_consequence, root, t0)  # now the root cause itself
