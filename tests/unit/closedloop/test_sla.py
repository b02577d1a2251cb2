"""SLA evaluation: the path's latency against the bound, and who to blame."""

from __future__ import annotations

import pytest

from intentloop_intents.sla import evaluate, path_latency
from intentloop_intents.topology import Topology
from tests.unit.intents.networks import L, build

PATH = ("a-b", "b-c", "c-d")


def line() -> Topology:
    """a - b - c - d, declared 2 + 3 + 5 ms."""
    return build(
        [
            L("a-b", "a:e1", "b:e1", latency=2),
            L("b-c", "b:e2", "c:e1", latency=3),
            L("c-d", "c:e2", "d:e1", latency=5),
        ]
    )


def test_path_latency_adds_declared_latencies_until_measurements_replace_them() -> None:
    topology = line()
    assert path_latency(topology, PATH) == 10.0
    topology.set_measured_latency("b-c", 7.5)
    assert path_latency(topology, PATH) == 14.5
    topology.set_measured_latency("b-c", None)
    assert path_latency(topology, PATH) == 10.0
    assert path_latency(topology, ()) == 0.0
    assert path_latency(topology, ("a-b", "nowhere")) is None


def test_a_path_within_its_bound_meets_the_sla() -> None:
    verdict = evaluate(line(), PATH, 10.0, path_up=True)
    assert verdict.met and verdict.measured_ms == 10.0 and verdict.bound_ms == 10.0
    assert verdict.culprits == ()
    assert "within the 10 ms bound" in verdict.reason


def test_a_slow_path_is_violated_and_the_reason_names_the_slow_links() -> None:
    topology = line()
    topology.set_measured_latency("c-d", 25.0)
    topology.set_measured_latency("a-b", 4.0)

    verdict = evaluate(topology, PATH, 20.0, path_up=True)

    assert not verdict.met and verdict.measured_ms == 32.0
    assert verdict.culprits == ("c-d", "a-b")  # 20 ms over its declared 5, then 2 over
    assert verdict.reason.startswith("latency 32.0 ms exceeds the 20 ms bound")
    assert "c-d 25.0 ms (declared 5)" in verdict.reason


def test_a_path_with_a_down_link_is_not_met_whatever_its_latency() -> None:
    topology = line()
    topology.set_link_state("b-c", oper_up=False)

    verdict = evaluate(topology, PATH, 100.0, path_up=True)

    assert not verdict.met
    assert verdict.reason == "path down: link b-c down"
    assert verdict.culprits == ("b-c",)


def test_a_path_reported_down_is_not_met_even_if_every_link_looks_up() -> None:
    verdict = evaluate(line(), PATH, 100.0, path_up=False)
    assert not verdict.met and verdict.reason == "path down"


def test_a_path_over_a_link_the_topology_does_not_know_cannot_be_vouched_for() -> None:
    verdict = evaluate(line(), ("a-b", "ghost"), 100.0, path_up=True)
    assert not verdict.met and verdict.measured_ms is None
    assert "ghost" in verdict.reason


def test_without_a_bound_an_up_path_is_met() -> None:
    topology = line()
    topology.set_measured_latency("a-b", 500.0)
    verdict = evaluate(topology, PATH, None, path_up=True)
    assert verdict.met and verdict.bound_ms is None and verdict.measured_ms == 508.0


@pytest.mark.parametrize(
    ("was_met", "measured_c_d", "met"),
    [
        (None, 9.5, False),  # 14.5 > 12
        (None, 6.5, True),  # 11.5 <= 12: no history, plain bound
        (True, 6.5, True),
        (False, 6.5, False),  # violated before: must come 1 ms under the bound
        (False, 6.0, True),  # 11.0 <= 12 - 1
    ],
)
def test_hysteresis_keeps_a_violation_from_flapping_around_the_bound(
    was_met: bool | None, measured_c_d: float, met: bool
) -> None:
    topology = line()
    topology.set_measured_latency("c-d", measured_c_d)
    verdict = evaluate(topology, PATH, 12.0, path_up=True, was_met=was_met, hysteresis_ms=1.0)
    assert verdict.met is met
    if not met and verdict.measured_ms is not None and verdict.measured_ms <= 12.0:
        assert "not yet 1 ms below the bound" in verdict.reason
