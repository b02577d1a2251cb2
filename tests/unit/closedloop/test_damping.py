"""Damping: re-path hold-down and budget per service, flap suppression per link."""

from __future__ import annotations

import pytest

from intentloop_intents.damping import Damper, FlapDamper


def test_a_service_never_re_pathed_may_be_re_pathed_now() -> None:
    damper = Damper()
    assert damper.allow("ns/web", 100.0) and damper.next_allowed("ns/web", 100.0) == 0.0


def test_a_re_path_starts_a_hold_down() -> None:
    damper = Damper(hold_down_s=2.0)
    damper.record("ns/web", 100.0)
    assert not damper.allow("ns/web", 100.5)
    assert damper.next_allowed("ns/web", 100.5) == pytest.approx(1.5)
    assert damper.allow("ns/web", 102.0)
    assert damper.allow("ns/db", 100.5)  # other services are not held


def test_a_change_restarts_the_hold_down_without_using_the_budget() -> None:
    damper = Damper(hold_down_s=2.0, max_per_window=1, window_s=30.0)
    damper.hold("ns/web", 10.0)
    damper.hold("ns/web", 11.5)  # the link flapped again: wait for it to settle
    assert damper.next_allowed("ns/web", 12.0) == pytest.approx(1.5)
    assert damper.allow("ns/web", 13.5)  # budget of one still unused
    damper.record("ns/web", 13.5)
    assert damper.next_allowed("ns/web", 16.0) == pytest.approx(27.5)


def test_at_most_the_budget_of_re_paths_runs_per_window() -> None:
    damper = Damper(hold_down_s=2.0, max_per_window=3, window_s=30.0)
    for moment in (0.0, 3.0, 6.0):
        assert damper.allow("svc", moment)
        damper.record("svc", moment)

    assert not damper.allow("svc", 8.0)
    assert damper.next_allowed("svc", 8.0) == pytest.approx(22.0)  # the one at 0 leaves at 30
    assert not damper.allow("svc", 29.9)
    assert damper.allow("svc", 30.0)


def test_the_window_slides() -> None:
    damper = Damper(hold_down_s=0.0, max_per_window=3, window_s=30.0)
    for moment in (0.0, 10.0, 20.0, 30.0):
        assert damper.allow("svc", moment), moment
        damper.record("svc", moment)
    assert damper.next_allowed("svc", 31.0) == pytest.approx(9.0)  # 10 leaves at 40
    assert damper.allow("svc", 40.0)


def test_forgetting_a_service_lifts_its_damping() -> None:
    damper = Damper(max_per_window=1)
    damper.record("svc", 0.0)
    damper.forget("svc")
    assert damper.allow("svc", 0.5)


def test_impossible_damping_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_per_window"):
        Damper(max_per_window=0)
    with pytest.raises(ValueError, match="reuse"):
        FlapDamper(reuse_at=3000.0)


def test_one_flap_is_tolerated_and_a_burst_of_flaps_suppresses_the_link() -> None:
    damper = FlapDamper()
    damper.flap("r1-r2", 0.0)
    assert not damper.suppressed("r1-r2", 0.0)
    damper.flap("r1-r2", 1.0)
    assert not damper.suppressed("r1-r2", 1.0)  # two flaps decay to just under the limit
    damper.flap("r1-r2", 2.0)
    assert damper.suppressed("r1-r2", 2.0)
    assert not damper.suppressed("r2-r3", 2.0)


def test_a_suppressed_link_is_reused_only_below_the_reuse_limit() -> None:
    damper = FlapDamper(half_life_s=15.0)
    for moment in (0.0, 0.0, 0.0):
        damper.flap("l", moment)  # penalty 3000
    # 15 s later the penalty is 1500: under the suppress limit, still suppressed.
    assert damper.penalty_at("l", 15.0) == pytest.approx(1500.0)
    assert damper.suppressed("l", 15.0)
    wait = damper.reuse_in("l", 15.0)
    assert wait == pytest.approx(15.0)  # 1500 -> 750 takes one half-life
    assert damper.suppressed("l", 15.0 + wait - 0.01)
    assert not damper.suppressed("l", 15.0 + wait + 0.01)
    assert damper.reuse_in("l", 31.0) == 0.0


def test_flaps_far_apart_never_suppress() -> None:
    damper = FlapDamper(half_life_s=15.0)
    for moment in range(0, 600, 20):
        damper.flap("l", float(moment))
        assert not damper.suppressed("l", float(moment)), moment


def test_a_link_that_keeps_flapping_comes_back_within_the_maximum_suppress_time() -> None:
    damper = FlapDamper(half_life_s=15.0, max_suppress_s=60.0)
    for moment in range(100):
        damper.flap("l", moment * 0.5)  # 100 flaps in 50 s
    last = 49.5
    assert damper.suppressed("l", last + 59.0)
    assert not damper.suppressed("l", last + 60.5)


def test_a_link_quiet_for_long_is_as_if_it_never_flapped() -> None:
    damper = FlapDamper(half_life_s=15.0)
    damper.flap("l", 0.0)
    damper.flap("l", 0.5)
    assert damper.penalty_at("l", 600.0) == 0.0
    damper.flap("l", 600.0)
    damper.flap("l", 600.5)
    assert not damper.suppressed("l", 600.5)


def test_a_service_out_of_service_is_held_down_but_not_budgeted() -> None:
    damper = Damper(hold_down_s=1.0, max_per_window=2, window_s=60.0)
    for moment in (0.0, 2.0):
        damper.record("svc", moment)
    assert not damper.allow("svc", 4.0)  # an SLA re-path waits for the window
    assert damper.allow("svc", 4.0, out_of_service=True)  # a dead path does not
    damper.record("svc", 4.0)
    assert not damper.allow("svc", 4.5, out_of_service=True)  # the hold-down still holds
    assert damper.next_allowed("svc", 4.5, out_of_service=True) == pytest.approx(0.5)


def test_forgetting_a_service_gives_a_new_one_of_the_same_name_a_full_budget() -> None:
    damper = Damper(hold_down_s=1.0, max_per_window=1, window_s=60.0)
    damper.record("ns/s-000", 0.0)
    assert not damper.allow("ns/s-000", 5.0)
    damper.forget("ns/s-000")
    assert damper.allow("ns/s-000", 5.0)
