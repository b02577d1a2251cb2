"""Handing out VLAN IDs, VRF numbers and route targets from pools, never twice.

The lock is the Kubernetes API server, not this module: every allocated value is one
object whose name is derived from the pool and the value (`allocation_name`), so two
operator replicas racing for the same value both try to *create* the same name and exactly
one wins (the other gets 409 Conflict and moves on to the next candidate). What this module
decides, purely, is which value to try:

- the value the owner already holds, if any (so re-running a reconcile is idempotent);
- otherwise a deterministic candidate order: `lowest` free value first, or `spread`, which
  starts at a point hashed from the owner so that racing replicas working on different
  owners rarely collide and retry.

A typical loop in the operator::

    taken: set[int] = set()
    while True:
        choice = allocation.choose(pool, owner, existing, also_taken=taken)
        if choice.held or create(choice.name, owner) succeeded:
            break
        taken.add(choice.value)   # someone else won the race for it
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Allocation objects are named "<pool>-<value>": keep room for the longest value (10 digits).
PoolName = Annotated[
    str,
    Field(min_length=1, max_length=242, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
Value = Annotated[int, Field(ge=0, le=4_294_967_295)]


class AllocationError(ValueError):
    """A request the pool cannot satisfy; the message names the pool and the value."""


class PoolExhausted(AllocationError):
    pass


class ValueUnavailable(AllocationError):
    pass


class Strategy(StrEnum):
    LOWEST = "lowest"
    SPREAD = "spread"


class Pool(BaseModel):
    """A set of integers (inclusive ranges minus excluded values) and how to pick from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PoolName
    ranges: tuple[tuple[Value, Value], ...] = Field(min_length=1)
    excluded: frozenset[Value] = frozenset()
    strategy: Strategy = Strategy.LOWEST

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> Pool:
        for start, end in self.ranges:
            if start > end:
                raise ValueError(f"range {start}-{end}: start is greater than end")
        return self

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The ranges sorted and merged, so each value appears once."""
        merged: list[tuple[int, int]] = []
        for start, end in sorted(self.ranges):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return tuple(merged)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or value in self.excluded:
            return False
        return any(start <= value <= end for start, end in self.ranges)

    def describe(self) -> str:
        return ", ".join(str(s) if s == e else f"{s}-{e}" for s, e in self.spans())


class Allocation(BaseModel):
    """One allocated value as the operator reads it back from its allocation object."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool: PoolName
    value: Value
    owner: str = Field(min_length=1, max_length=253)

    @property
    def name(self) -> str:
        return allocation_name(self.pool, self.value)


class Choice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Value
    name: str
    held: bool  # True: the owner already holds it (nothing to create)


def allocation_name(pool: str, value: int) -> str:
    """The allocation object's name: creating it is taking the lock on `value`."""
    return f"{pool}-{value}"


def value_from_name(pool: str, name: str) -> int | None:
    """The value an allocation object's name stands for in `pool`, or None if not of it."""
    prefix = f"{pool}-"
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    if not rest.isdigit() or (len(rest) > 1 and rest[0] == "0"):
        return None
    return int(rest)


def held(pool: Pool, owner: str, existing: Iterable[Allocation]) -> int | None:
    """The value `owner` holds in `pool` (the lowest, should a race have left it two)."""
    mine = [a.value for a in existing if a.pool == pool.name and a.owner == owner]
    return min(mine) if mine else None


def surplus(pool: Pool, owner: str, existing: Iterable[Allocation]) -> tuple[Allocation, ...]:
    """Allocations `owner` holds beyond the one it keeps: the operator deletes these."""
    mine = sorted(
        (a for a in existing if a.pool == pool.name and a.owner == owner), key=lambda a: a.value
    )
    return tuple(mine[1:])


def candidates(pool: Pool, owner: str, taken: Iterable[int]) -> Iterator[int]:
    """Free values of `pool` in the order to try them; stops when the pool is exhausted."""
    spans = pool.spans()
    starts = [start for start, _ in spans]
    offsets: list[int] = []
    size = 0
    for start, end in spans:
        offsets.append(size)
        size += end - start + 1
    unavailable = set(taken) | pool.excluded
    first = 0 if pool.strategy is Strategy.LOWEST else _hash(pool.name, owner) % size
    in_pool = _Spans(spans, starts)
    free = size - sum(1 for value in unavailable if value in in_pool)
    index = first
    while free > 0:
        span = bisect.bisect_right(offsets, index) - 1
        value = spans[span][0] + (index - offsets[span])
        if value not in unavailable:
            free -= 1
            yield value
        index = (index + 1) % size


def choose(
    pool: Pool,
    owner: str,
    existing: Iterable[Allocation],
    *,
    requested: int | None = None,
    also_taken: Iterable[int] = (),
) -> Choice:
    """The value `owner` should hold: its current one, the requested one, or the next free.

    `existing` is every allocation object of the pool; `also_taken` adds values lost in a
    create race since `existing` was read. Raises `ValueUnavailable` when the requested
    value is excluded, outside the pool or in use by another owner, `PoolExhausted` when
    nothing is left.
    """
    existing = [a for a in existing if a.pool == pool.name]
    current = held(pool, owner, existing)
    holders = {a.value: a.owner for a in existing}
    taken = set(holders) | set(also_taken)
    if requested is not None:
        if requested == current:
            return Choice(value=requested, name=allocation_name(pool.name, requested), held=True)
        _check_requestable(pool, requested, holders.get(requested), requested in taken)
        return Choice(value=requested, name=allocation_name(pool.name, requested), held=False)
    if current is not None:
        return Choice(value=current, name=allocation_name(pool.name, current), held=True)
    for value in candidates(pool, owner, taken):
        return Choice(value=value, name=allocation_name(pool.name, value), held=False)
    raise PoolExhausted(f"pool {pool.name} ({pool.describe()}) has no free value left")


def pick(
    pools: Iterable[Pool],
    owner: str,
    existing: Iterable[Allocation],
    *,
    requested: int | None = None,
    also_taken: Iterable[int] = (),
) -> tuple[Pool, Choice]:
    """Which pool and value `owner` gets from several pools of one kind.

    The value it already holds in any of them (the requested one, if it asked), else the
    pools in name order: the first that can give a value (only pools containing
    `requested`, when it asked for one). Provisioning creates the allocation of the answer;
    a dry run only shows it — one function, so a plan shows what provisioning would take.
    Raises like `choose`; `ValueUnavailable` when `requested` is in none of the pools.
    """
    existing = list(existing)
    ordered = sorted(pools, key=lambda p: p.name)
    for pool in ordered:
        mine = {a.value for a in existing if a.pool == pool.name and a.owner == owner}
        value = min(mine) if mine and requested is None else requested
        if value is not None and value in mine:
            return pool, Choice(value=value, name=allocation_name(pool.name, value), held=True)
    last_error: AllocationError | None = None
    for pool in ordered:
        if requested is not None and requested not in pool:
            continue
        try:
            return pool, choose(pool, owner, existing, requested=requested, also_taken=also_taken)
        except AllocationError as e:
            last_error = e
    if last_error is not None:
        raise last_error
    if requested is None:
        raise PoolExhausted("there is no pool to take a value from")
    names = ", ".join(p.name for p in ordered) or "none"
    raise ValueUnavailable(f"{requested} is in none of the pools ({names})")


def route_target(asn: int, value: int) -> str:
    """A route target "ASN:value" (RFC 4360: 2-byte ASN with a 4-byte value, or the reverse)."""
    if not 1 <= asn <= 4_294_967_295:
        raise AllocationError(f"route target: ASN {asn} is outside 1..4294967295")
    limit = 4_294_967_295 if asn <= 65_535 else 65_535
    if not 0 <= value <= limit:
        raise AllocationError(f"route target: value {value} does not fit with ASN {asn}")
    return f"{asn}:{value}"


def _check_requestable(pool: Pool, value: int, holder: str | None, taken: bool) -> None:
    if value in pool.excluded:
        raise ValueUnavailable(f"{value} is excluded from pool {pool.name}")
    if value not in pool:
        raise ValueUnavailable(f"{value} is outside pool {pool.name} ({pool.describe()})")
    # Who holds it is not said: the holder may be another tenant, whose names are its own.
    if holder is not None or taken:
        raise ValueUnavailable(f"{value} in pool {pool.name} is already in use")


def _hash(pool: str, owner: str) -> int:
    digest = hashlib.sha256(f"{pool}\x00{owner}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class _Spans:
    """Membership in merged spans by binary search (pools can hold billions of values)."""

    def __init__(self, spans: tuple[tuple[int, int], ...], starts: list[int]) -> None:
        self._spans = spans
        self._starts = starts

    def __contains__(self, value: int) -> bool:
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and self._spans[i][0] <= value <= self._spans[i][1]
