"""Forecasting a link's latency and utilisation: Holt's double exponential smoothing.

Why Holt and not Holt-Winters: the series the loop acts on (a link slowly getting slower, a
load ramping up) have a level and a trend but no season the controller could learn within
the minutes that matter; a seasonal term would need days of history and would forecast a
daily peak that the re-path itself removes. Holt keeps two numbers per series, costs a few
multiplications per sample, and extrapolates a straight line -- what "time until the bound
is crossed" needs.

Samples arrive at irregular instants (telemetry, passes woken early), so the trend is kept
*per second* and the smoothing takes the gap between samples into account: the prediction
for the new sample is `level + trend * dt`, and the trend is updated from the change in
level divided by `dt`.

Noise must not move services. A forecast is only trusted (`Holt.trusted`) once it has seen
`min_samples` samples, and a crossing is only forecast when the rise over the horizon is
larger than `noise_factor` times the typical one-step error (`Holt.error`, an exponentially
weighted mean absolute error): a flat series with jitter has a trend that wanders around
zero, and its rise over the horizon stays within its own noise.

Everything is pure: times are floats (seconds) handed in by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Smoothing:
    """How a series is smoothed and when its forecast is believed."""

    alpha: float = 0.3  # weight of the new sample in the level
    beta: float = 0.1  # weight of the newest slope in the trend
    min_samples: int = 6  # samples fitted by least squares before a forecast is trusted
    noise_factor: float = 6.0  # a rise must exceed this many typical one-step errors
    error_weight: float = 0.2  # weight of the newest error in `Holt.error`
    # A sample this fraction below the forecast (and beyond the noise) is a level shift
    # down -- a fault repaired, a load gone: the series starts afresh instead of carrying
    # the steep fall (and the large errors) into the forecast of the next rise, which would
    # then be seen late. A shift *up* is kept: it is what the forecast is for.
    restart_drop: float = 0.25

    def __post_init__(self) -> None:
        if not (0 < self.alpha <= 1 and 0 < self.beta <= 1 and 0 < self.error_weight <= 1):
            raise ValueError("smoothing needs 0 < alpha, beta, error_weight <= 1")
        if self.min_samples < 3 or self.noise_factor < 0 or self.restart_drop <= 0:
            raise ValueError(
                "smoothing needs min_samples >= 3, noise_factor >= 0, restart_drop > 0"
            )


@dataclass(frozen=True)
class Holt:
    """One series' smoothed state: level at `at`, trend per second, typical error."""

    level: float
    trend: float
    at: float
    samples: int
    error: float = 0.0
    warmup: tuple[tuple[float, float], ...] = ()  # the first samples, until fitted

    def value_at(self, when: float) -> float:
        """The forecast value at `when` (a straight line from the last sample)."""
        return self.level + self.trend * (when - self.at)

    def trusted(self, smoothing: Smoothing) -> bool:
        return self.samples >= smoothing.min_samples


def update(state: Holt | None, when: float, value: float, smoothing: Smoothing) -> Holt:
    """The state after observing `value` at `when` (a first sample starts the series).

    The first `min_samples` samples are kept and fitted by least squares (level, trend and
    typical error at once): starting the trend from the first two samples alone would let
    the noise in those two steer the forecast for a long time at a small `beta`. A sample at
    or before the last one (a clock that did not move) only updates the level.
    """
    if not math.isfinite(value):
        raise ValueError(f"sample must be finite, got {value}")
    if state is None or state.samples < smoothing.min_samples:
        warmup = (*(state.warmup if state else ()), (when, value))
        return _fitted(warmup) if len(warmup) == smoothing.min_samples else _start(warmup)
    dt = when - state.at
    if dt <= 0:
        level = smoothing.alpha * value + (1 - smoothing.alpha) * state.level
        return replace(state, level=level, samples=state.samples + 1)
    predicted = state.value_at(when)
    drop = predicted - value
    if drop > max(smoothing.noise_factor * state.error, smoothing.restart_drop * abs(predicted)):
        return _start(((when, value),))  # a level shift down: start afresh (see Smoothing)
    level = smoothing.alpha * value + (1 - smoothing.alpha) * predicted
    slope = (level - state.level) / dt
    trend = smoothing.beta * slope + (1 - smoothing.beta) * state.trend
    w = smoothing.error_weight
    error = w * abs(value - predicted) + (1 - w) * state.error
    return Holt(level=level, trend=trend, at=when, samples=state.samples + 1, error=error)


def _start(warmup: tuple[tuple[float, float], ...]) -> Holt:
    when, value = warmup[-1]
    return Holt(level=value, trend=0.0, at=when, samples=len(warmup), warmup=warmup)


def _fitted(warmup: tuple[tuple[float, float], ...]) -> Holt:
    """A least-squares line through the warm-up samples; its error is the mean absolute
    residual, doubled (a one-step forecast misses by the noise of two samples)."""
    n = len(warmup)
    mean_t = math.fsum(t for t, _ in warmup) / n
    mean_v = math.fsum(v for _, v in warmup) / n
    spread = math.fsum((t - mean_t) ** 2 for t, _ in warmup)
    slope = 0.0
    if spread > 0:
        slope = math.fsum((t - mean_t) * (v - mean_v) for t, v in warmup) / spread
    last = warmup[-1][0]
    residual = math.fsum(abs(v - (mean_v + slope * (t - mean_t))) for t, v in warmup) / n
    level = mean_v + slope * (last - mean_t)
    return Holt(level=level, trend=slope, at=last, samples=n, error=2 * residual)


def seconds_until(state: Holt, threshold: float, now: float) -> float | None:
    """Seconds from `now` until the forecast reaches `threshold` (0.0: already there);
    None when the forecast never reaches it (flat or falling)."""
    current = state.value_at(now)
    if current >= threshold:
        return 0.0
    if state.trend <= 0:
        return None
    return (threshold - current) / state.trend


@dataclass(frozen=True)
class Crossing:
    """A forecast crossing: when (seconds from now), of what, from which value."""

    in_s: float
    threshold: float
    current: float
    trend_per_s: float


def crossing_within(
    states: list[Holt], threshold: float, now: float, horizon_s: float, smoothing: Smoothing
) -> Crossing | None:
    """Whether the *sum* of `states` (e.g. the links of a path) is forecast to reach
    `threshold` within `horizon_s` of `now`, above the noise; None if not (or not trusted).

    A sum is a straight line too: its level is the sum of levels at `now` and its trend the
    sum of trends; its noise is taken as the sum of the parts' errors (a safe upper bound).
    """
    if not states or any(not s.trusted(smoothing) for s in states):
        return None
    current = math.fsum(s.value_at(now) for s in states)
    trend = math.fsum(s.trend for s in states)
    noise = math.fsum(s.error for s in states)
    if current >= threshold or trend <= 0:
        return None  # already crossed (the SLA check acts on that) or not rising
    rise = trend * horizon_s
    if rise <= smoothing.noise_factor * noise:
        return None  # the rise expected is within the series' own noise
    in_s = (threshold - current) / trend
    if in_s > horizon_s:
        return None
    return Crossing(in_s=in_s, threshold=threshold, current=current, trend_per_s=trend)
