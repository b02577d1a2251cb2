"""Deciding allocations in time independent of how many values a pool already holds.

`allocation.choose` reads every allocation of a pool on each call: fine for a VLAN pool of
4,094, not for a network-wide service-ID pool holding 100,000 values taken one by one. A
`Held` index keeps, per pool, who holds which value and what each owner holds, so `decide`
answers the same question as `allocation.choose` (the owner's value, the requested one, or
the next free in the pool's order) with a few dictionary look-ups: with a hashed start
(`spread`) the first candidate is free unless the pool is nearly full.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from intentloop_intents.allocation import (
    Allocation,
    Choice,
    Pool,
    PoolExhausted,
    Strategy,
    ValueUnavailable,
    _hash,
    allocation_name,
)


class Held:
    """The allocations of one pool, indexed by value and by owner."""

    def __init__(self, allocations: Iterable[Allocation] = ()) -> None:
        self.holders: dict[int, str] = {}
        self.by_owner: dict[str, set[int]] = {}
        for a in allocations:
            self.add(a.value, a.owner)

    def add(self, value: int, owner: str) -> None:
        self.holders[value] = owner
        self.by_owner.setdefault(owner, set()).add(value)

    def remove(self, value: int) -> None:
        owner = self.holders.pop(value, None)
        if owner is not None:
            mine = self.by_owner.get(owner, set())
            mine.discard(value)
            if not mine:
                self.by_owner.pop(owner, None)

    def of(self, owner: str) -> set[int]:
        return set(self.by_owner.get(owner, ()))

    def __len__(self) -> int:
        return len(self.holders)


def decide(pool: Pool, owner: str, held: Held, *, requested: int | None = None) -> Choice:
    """Like `allocation.choose` over the pool's `held` allocations (same errors)."""
    mine = held.by_owner.get(owner, set())
    if requested is not None:
        if requested in mine:
            return Choice(value=requested, name=allocation_name(pool.name, requested), held=True)
        if requested in pool.excluded:
            raise ValueUnavailable(f"{requested} is excluded from pool {pool.name}")
        if requested not in pool:
            raise ValueUnavailable(f"{requested} is outside pool {pool.name} ({pool.describe()})")
        if requested in held.holders:  # who holds it is not said: maybe another tenant
            raise ValueUnavailable(f"{requested} in pool {pool.name} is already in use")
        return Choice(value=requested, name=allocation_name(pool.name, requested), held=False)
    if mine:
        value = min(mine)
        return Choice(value=value, name=allocation_name(pool.name, value), held=True)
    for value in free_values(pool, owner, held):
        return Choice(value=value, name=allocation_name(pool.name, value), held=False)
    raise PoolExhausted(f"pool {pool.name} ({pool.describe()}) has no free value left")


def size(pool: Pool) -> int:
    return sum(end - start + 1 for start, end in pool.spans())


def free_values(pool: Pool, owner: str, held: Held) -> Iterator[int]:
    """Free values in the order `allocation.candidates` gives them, without copying `held`."""
    spans = pool.spans()
    total = size(pool)
    offsets: list[int] = []
    running = 0
    for start, end in spans:
        offsets.append(running)
        running += end - start + 1
    index = 0 if pool.strategy is Strategy.LOWEST else _hash(pool.name, owner) % total
    for _ in range(total):  # a full pool is walked once (a VLAN pool: 4,094 steps at most)
        span = bisect.bisect_right(offsets, index) - 1
        value = spans[span][0] + (index - offsets[span])
        if value not in held.holders and value not in pool.excluded:
            yield value
        index = (index + 1) % total
