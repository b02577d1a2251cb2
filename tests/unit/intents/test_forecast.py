"""Holt forecasting on synthetic series whose answer is known."""

from __future__ import annotations

import random

import pytest

from intentloop_intents import forecast

SMOOTH = forecast.Smoothing()


def _fed(
    samples: list[tuple[float, float]], smoothing: forecast.Smoothing = SMOOTH
) -> forecast.Holt:
    state = None
    for when, value in samples:
        state = forecast.update(state, when, value, smoothing)
    assert state is not None
    return state


def test_a_straight_line_is_learnt_exactly_and_its_crossing_time_is_exact() -> None:
    # 2 ms + 0.5 ms/s, sampled every second for 10 s
    state = _fed([(t, 2.0 + 0.5 * t) for t in range(11)])
    assert state.level == pytest.approx(7.0)
    assert state.trend == pytest.approx(0.5)
    assert state.error == pytest.approx(0.0, abs=1e-9)
    # 10 ms is reached at t = 16, i.e. 6 s after the last sample
    assert forecast.seconds_until(state, 10.0, 10.0) == pytest.approx(6.0)
    crossing = forecast.crossing_within([state], 10.0, 10.0, 30.0, SMOOTH)
    assert crossing is not None and crossing.in_s == pytest.approx(6.0)


def test_irregular_sampling_keeps_the_trend_per_second() -> None:
    times = [0.0, 0.3, 1.9, 2.0, 4.5, 7.25, 8.0]
    state = _fed([(t, 10.0 - 0.2 * t) for t in times])
    assert state.trend == pytest.approx(-0.2)
    assert state.value_at(18.0) == pytest.approx(10.0 - 0.2 * 18.0)


def test_a_crossing_beyond_the_horizon_is_not_reported() -> None:
    state = _fed([(t, 1.0 + 0.1 * t) for t in range(10)])  # 1.9 at t = 9, 10 at t = 90
    assert forecast.crossing_within([state], 10.0, 9.0, 30.0, SMOOTH) is None
    crossing = forecast.crossing_within([state], 10.0, 9.0, 90.0, SMOOTH)
    assert crossing is not None and crossing.in_s == pytest.approx(81.0)


def test_a_flat_or_falling_series_never_crosses() -> None:
    flat = _fed([(t, 5.0) for t in range(10)])
    falling = _fed([(t, 9.0 - 0.3 * t) for t in range(10)])
    assert forecast.seconds_until(flat, 6.0, 9.0) is None
    assert forecast.seconds_until(falling, 10.0, 9.0) is None
    assert forecast.crossing_within([flat], 6.0, 9.0, 1e6, SMOOTH) is None


def test_an_already_crossed_threshold_is_left_to_the_sla_check() -> None:
    state = _fed([(t, 5.0 + t) for t in range(10)])
    assert forecast.seconds_until(state, 10.0, 9.0) == 0.0
    assert forecast.crossing_within([state], 10.0, 9.0, 60.0, SMOOTH) is None


def test_too_few_samples_are_not_trusted() -> None:
    state = _fed([(t, 2.0 + t) for t in range(5)])  # a steep ramp, but only 5 samples
    assert not state.trusted(SMOOTH)
    assert forecast.crossing_within([state], 10.0, 4.0, 60.0, SMOOTH) is None


def test_noise_around_a_flat_level_is_not_a_forecast_crossing() -> None:
    rng = random.Random(13)
    for _ in range(50):
        state = _fed([(t, 5.0 + rng.uniform(-0.5, 0.5)) for t in range(60)])
        # the bound is 1 ms above the noise band: no crossing may be forecast
        assert forecast.crossing_within([state], 6.5, 59.0, 20.0, SMOOTH) is None


def test_a_ramp_under_noise_is_still_seen_in_time() -> None:
    rng = random.Random(7)
    # 1 ms + 0.2 ms/s with +-0.2 ms noise: 8 ms is reached at t = 35
    samples = [(float(t), 1.0 + 0.2 * t + rng.uniform(-0.2, 0.2)) for t in range(21)]
    state = _fed(samples)
    crossing = forecast.crossing_within([state], 8.0, 20.0, 30.0, SMOOTH)
    assert crossing is not None
    assert crossing.in_s == pytest.approx(15.0, abs=3.0)


def test_steps_are_forecast_like_the_ramp_they_add_up_to() -> None:
    # +1 ms every 3 s, sampled every second: about 1/3 ms/s
    samples = [(float(t), 2.0 + t // 3) for t in range(16)]  # 7 ms at t = 15
    state = _fed(samples)
    assert state.trend == pytest.approx(1 / 3, rel=0.5)
    crossing = forecast.crossing_within([state], 10.0, 15.0, 20.0, SMOOTH)
    assert crossing is not None and 3.0 < crossing.in_s < 20.0


def test_a_path_sums_its_links() -> None:
    rising = _fed([(t, 1.0 + 0.25 * t) for t in range(9)])  # 3.0 at t = 8
    steady = _fed([(t, 2.0) for t in range(9)])
    # path: 5.0 now, +0.25 ms/s: 8.0 in 12 s
    crossing = forecast.crossing_within([rising, steady], 8.0, 8.0, 20.0, SMOOTH)
    assert crossing is not None
    assert crossing.current == pytest.approx(5.0)
    assert crossing.in_s == pytest.approx(12.0)
    assert forecast.crossing_within([], 8.0, 8.0, 20.0, SMOOTH) is None


def test_a_repeated_instant_only_moves_the_level() -> None:
    state = _fed([(float(t), float(t)) for t in range(6)] + [(5.0, 9.0)])
    # alpha = 0.3 of the new sample, the rest from the level at that instant (5.0)
    assert state.trend == pytest.approx(1.0)
    assert state.level == pytest.approx(0.3 * 9.0 + 0.7 * 5.0)
    assert state.samples == 7


def test_noise_in_the_first_samples_does_not_become_a_trend() -> None:
    state = _fed([(float(t), 5.0 + (0.3 if t % 2 else -0.3)) for t in range(8)])
    assert abs(state.trend) < 0.1
    assert forecast.crossing_within([state], 8.0, 7.0, 30.0, SMOOTH) is None


def test_after_a_fall_a_new_rise_is_seen_as_soon_as_on_a_fresh_series() -> None:
    # +10 ms for a while, back to 1 ms (a fault repaired), flat 12 s, then 0.5 ms/s again
    history = [(float(t), 1.0) for t in range(30)]
    history += [(30.0 + t, 1.0 + 0.5 * t) for t in range(21)]  # up to 11 ms at t = 50
    history += [(51.0 + t, 1.0) for t in range(12)]  # the fall, then flat to t = 62
    ramp = [(63.0 + t, 1.0 + 0.5 * (t + 1)) for t in range(12)]

    def first_alarm(samples: list[tuple[float, float]]) -> float | None:
        state = None
        for when, value in samples:
            state = forecast.update(state, when, value, SMOOTH)
            if when >= 63 and forecast.crossing_within([state], 8.0, when, 30.0, SMOOTH):
                return when
        return None

    fresh = first_alarm([(51.0 + t, 1.0) for t in range(12)] + ramp)
    after_fall = first_alarm(history + ramp)
    assert fresh is not None and after_fall == fresh
    assert after_fall < 63 + 13  # 8 ms is reached 14 s into the ramp


@pytest.mark.parametrize(
    "kwargs",
    [{"alpha": 0.0}, {"beta": 1.5}, {"min_samples": 2}, {"noise_factor": -1.0}],
)
def test_bad_smoothing_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        forecast.Smoothing(**kwargs)  # type: ignore[arg-type]


def test_a_non_finite_sample_is_refused() -> None:
    with pytest.raises(ValueError):
        forecast.update(None, 0.0, float("nan"), SMOOTH)
