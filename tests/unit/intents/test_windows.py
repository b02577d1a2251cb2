"""Maintenance windows: phases by the clock, links drained, who cannot move, alarms expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from intentloop_intents import alarms, blastradius, windows
from intentloop_intents.resources.maintenance import MaintenanceSpec
from tests.unit.intents.networks import L, build

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
TRIANGLE = [
    L("a-b", "a:1", "b:1", latency=1),
    L("b-c", "b:2", "c:1", latency=1),
    L("a-c", "a:2", "c:2", latency=5),
]


def _window(name: str, kind: str, target: str, drain_s: int = 60) -> windows.Window:
    spec = MaintenanceSpec.model_validate(
        {
            "target": {"kind": kind, "name": target},
            "start": T0.isoformat(),
            "end": (T0 + timedelta(hours=1)).isoformat(),
            "drainBeforeS": drain_s,
        }
    )
    return windows.Window(name, spec)


def test_the_phase_follows_the_clock() -> None:
    w = _window("mw", "Link", "a-b", drain_s=60)
    assert w.phase(T0 - timedelta(seconds=61)) == "Scheduled"
    assert w.phase(T0 - timedelta(seconds=60)) == "Draining"
    assert w.phase(T0) == "InProgress"
    assert w.phase(T0 + timedelta(hours=1)) == "Completed"


def test_a_device_drains_every_link_at_it_while_the_window_is_near_or_open() -> None:
    topology = build(TRIANGLE)
    dev, link = _window("dev", "Device", "b"), _window("lnk", "Link", "a-c")
    assert windows.drained([dev, link], topology, T0 - timedelta(hours=1)) == {}
    assert windows.drained([dev, link], topology, T0) == {
        "a-b": "dev",
        "b-c": "dev",
        "a-c": "lnk",
    }
    assert windows.drained([dev, link], topology, T0 + timedelta(hours=2)) == {}


def test_services_without_a_way_round_are_listed_with_the_reason() -> None:
    topology = build(TRIANGLE)
    services = [
        blastradius.ServiceUse("t", "via-b", ("a", "c"), ("a-b", "b-c"), ("a", "b", "c")),
        blastradius.ServiceUse(
            "t", "tight", ("a", "c"), ("a-b", "b-c"), ("a", "b", "c"), bound_ms=3.0
        ),
        blastradius.ServiceUse("t", "ends-at-b", ("a", "b"), ("a-b",), ("a", "b")),
    ]
    stuck = windows.cannot_move(_window("dev", "Device", "b"), topology, services)
    assert [(i.name, i.fate) for i in stuck] == [("ends-at-b", "down"), ("tight", "degraded")]
    assert stuck[0].detail == "its endpoint device b is down"
    assert windows.cannot_move(_window("x", "Link", "nope"), topology, services) == []


def _alarm(key: str, kind: str, name: str, root: str | None = None) -> alarms.DesiredAlarm:
    return alarms.DesiredAlarm(
        key=key,
        namespace="infra" if root is None else "t",
        alarm_type="communicationsAlarm",
        perceived_severity="major",
        probable_cause="linkDown",
        specific_problem="",
        source=(kind, name, None),
        is_root_cause=root is None,
        root_cause=None if root is None else ("infra", root),
        correlated=(),
        affected_services=(),
    )


def test_alarms_about_the_target_and_their_consequences_are_expected_in_the_window() -> None:
    topology = build(TRIANGLE)
    raised = [
        _alarm("link-a-b-linkdown", "Link", "a-b"),
        _alarm("service-s-serviceimpacted", "NetworkService", "s", root="link-a-b-linkdown"),
        _alarm("link-a-c-linkdown", "Link", "a-c"),
    ]
    w = _window("mw", "Link", "a-b")
    before = windows.mark_expected(raised, [w], topology, T0 - timedelta(seconds=1))
    assert all(a.maintenance is None for a in before)
    during = {a.key: a.maintenance for a in windows.mark_expected(raised, [w], topology, T0)}
    assert during == {
        "link-a-b-linkdown": "mw",
        "service-s-serviceimpacted": "mw",
        "link-a-c-linkdown": None,  # not what the maintenance explains
    }
