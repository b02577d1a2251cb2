"""Damping: how the remediation loop avoids turning a flapping network into a storm.

Two independent brakes. `Damper` limits how often one service may be re-pathed: a hold-down
after every change lets the network settle (a link that drops for 300 ms should not cause
two re-paths), and a budget per sliding window caps the churn a pathological case can
cause. `FlapDamper` is RFC 2439's route-flap damping applied to links: every flap adds a
penalty that halves every `half_life_s`; a link whose penalty crosses `suppress_at` is kept
out of path computation, and comes back only once its penalty has decayed below `reuse_at`
-- the gap between the two is what stops a link from being used, dropped, used again.

Times are floats (monotonic seconds) handed in by the caller, never read from a clock here:
the operator passes `time.monotonic()`, tests pass whatever instants they need.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


class Damper:
    """Per-key (service) permission to re-path: a hold-down and a budget per window."""

    def __init__(
        self, *, hold_down_s: float = 2.0, max_per_window: int = 3, window_s: float = 30.0
    ) -> None:
        if hold_down_s < 0 or window_s < 0 or max_per_window < 1:
            raise ValueError("damping needs hold_down_s >= 0, window_s >= 0, max_per_window >= 1")
        self.hold_down_s = hold_down_s
        self.max_per_window = max_per_window
        self.window_s = window_s
        self._done: dict[str, deque[float]] = {}  # re-path times inside the window
        self._quiet_from: dict[str, float] = {}  # end of the current hold-down

    def allow(self, key: str, now: float, *, out_of_service: bool = False) -> bool:
        """Whether a re-path of `key` may run at `now`.

        The budget bounds churn of services that still carry traffic (SLA re-paths). A
        service whose path is down is out of service: waiting for the window would prolong
        an outage, so only the hold-down applies. That cannot storm either: a re-path takes
        the service off the failed link, and only an SLA re-path — budgeted — brings it back.
        """
        return self.next_allowed(key, now, out_of_service=out_of_service) == 0.0

    def next_allowed(self, key: str, now: float, *, out_of_service: bool = False) -> float:
        """Seconds to wait before a re-path of `key` may run (0.0: now); for requeue timers."""
        wait = self._quiet_from.get(key, now) - now
        done = self._recent(key, now)
        if len(done) >= self.max_per_window and not out_of_service:
            # The oldest re-path that keeps the budget full leaves the window then.
            wait = max(wait, done[len(done) - self.max_per_window] + self.window_s - now)
        return max(wait, 0.0)

    def record(self, key: str, now: float) -> None:
        """A re-path of `key` ran at `now`: it uses the budget and starts a hold-down."""
        self._recent(key, now).append(now)
        self.hold(key, now)

    def hold(self, key: str, now: float) -> None:
        """Something `key` depends on changed: (re)start the hold-down, budget untouched."""
        self._quiet_from[key] = max(self._quiet_from.get(key, now), now + self.hold_down_s)

    def forget(self, key: str) -> None:
        """The service is gone: drop what is kept for it."""
        self._done.pop(key, None)
        self._quiet_from.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        done = self._done.setdefault(key, deque())
        while done and done[0] <= now - self.window_s:
            done.popleft()
        return done


@dataclass
class _Penalty:
    value: float
    at: float
    suppressed: bool


class FlapDamper:
    """RFC 2439-style flap damping per link (call `flap` on each transition to down).

    With the defaults a link is suppressed by its third flap in quick succession (the
    first two add up to just under 2000 once decay is counted) and stays suppressed at
    most `max_suppress_s` after its last flap, because the penalty is capped at the value
    that decays to `reuse_at` in exactly that time.
    """

    def __init__(
        self,
        *,
        half_life_s: float = 15.0,
        penalty: float = 1000.0,
        suppress_at: float = 2000.0,
        reuse_at: float = 750.0,
        max_suppress_s: float = 60.0,
    ) -> None:
        if not (half_life_s > 0 and penalty > 0 and 0 < reuse_at < suppress_at):
            raise ValueError("flap damping needs half_life_s, penalty > 0, 0 < reuse < suppress")
        self.half_life_s = half_life_s
        self.penalty = penalty
        self.suppress_at = suppress_at
        self.reuse_at = reuse_at
        self.ceiling = max(reuse_at * 2.0 ** (max_suppress_s / half_life_s), suppress_at)
        self._links: dict[str, _Penalty] = {}

    def flap(self, link: str, now: float) -> None:
        """`link` flapped at `now`: add a penalty, suppress it if the sum crosses the limit."""
        current = self._decayed(link, now)
        value = min(current.value + self.penalty, self.ceiling)
        suppressed = current.suppressed or value > self.suppress_at
        self._links[link] = _Penalty(value, now, suppressed)

    def suppressed(self, link: str, now: float) -> bool:
        """Whether `link` should be kept out of use at `now` (it is reused below `reuse_at`)."""
        return self._decayed(link, now).suppressed

    def penalty_at(self, link: str, now: float) -> float:
        return self._decayed(link, now).value

    def reuse_in(self, link: str, now: float) -> float:
        """Seconds until a suppressed `link` may be used again if it stops flapping (0.0: now)."""
        current = self._decayed(link, now)
        if not current.suppressed:
            return 0.0
        return self.half_life_s * math.log2(current.value / self.reuse_at)

    def _decayed(self, link: str, now: float) -> _Penalty:
        """The link's penalty decayed to `now`; forgotten once it no longer matters."""
        state = self._links.get(link)
        if state is None:
            return _Penalty(0.0, now, False)
        elapsed = max(now - state.at, 0.0)
        value = state.value * 0.5 ** (elapsed / self.half_life_s)
        suppressed = state.suppressed and value >= self.reuse_at
        if not suppressed and value < self.reuse_at / 100:
            del self._links[link]  # below 1% of the reuse limit: as good as never flapped
            return _Penalty(0.0, now, False)
        return _Penalty(value, now, suppressed)
