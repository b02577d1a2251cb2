"""The indexed decision (`allocation_index.decide`) is `allocation.choose`, in time that
does not grow with the number of values a pool holds."""

from __future__ import annotations

import random
import time

import pytest

from intentloop_intents import allocation as alloc
from intentloop_intents.allocation_index import Held, decide


def _case(rng: random.Random) -> tuple[alloc.Pool, list[alloc.Allocation], str, int | None]:
    start = rng.randint(1, 50)
    pool = alloc.Pool(
        name="p",
        ranges=((start, start + rng.randint(0, 30)), (200, 200 + rng.randint(0, 5))),
        excluded=frozenset(rng.sample(range(1, 240), rng.randint(0, 5))),
        strategy=rng.choice(list(alloc.Strategy)),
    )
    values = [v for s, e in pool.spans() for v in range(s, e + 1) if v in pool]
    held = rng.sample(values, rng.randint(0, len(values)))
    # One value per owner (two are a race's leftover, which `take_in` gives back at once).
    owners = [f"ns/o{i}" for i in rng.sample(range(40), len(held))] if len(held) <= 40 else []
    held = held[: len(owners)]
    existing = [
        alloc.Allocation(pool="p", value=v, owner=o) for v, o in zip(held, owners, strict=True)
    ]
    requested = rng.choice([None, None, rng.randint(1, 240)])
    return pool, existing, f"ns/o{rng.randint(0, 45)}", requested


@pytest.mark.parametrize("seed", range(400))
def test_decide_is_choose(seed: int) -> None:
    pool, existing, owner, requested = _case(random.Random(seed))
    try:
        expected: alloc.Choice | type[Exception] = alloc.choose(
            pool, owner, existing, requested=requested
        )
    except alloc.AllocationError as e:
        expected = type(e)
    try:
        got: alloc.Choice | type[Exception] = decide(
            pool, owner, Held(existing), requested=requested
        )
    except alloc.AllocationError as e:
        got = type(e)
    assert got == expected


def test_a_decision_in_a_pool_of_100000_held_values_costs_no_more_than_in_an_empty_one() -> None:
    pool = alloc.Pool(name="ids", ranges=((1, 4_294_967_295),), strategy=alloc.Strategy.SPREAD)
    held = Held(
        alloc.Allocation(pool="ids", value=v * 7 + 1, owner=f"ns/s{v}") for v in range(100_000)
    )
    assert len(held) == 100_000
    t0 = time.perf_counter()
    for i in range(1000):
        choice = decide(pool, f"ns/new{i}", held)
        assert choice.value not in held.holders and not choice.held
    elapsed = time.perf_counter() - t0
    assert decide(pool, "ns/s5", held).value == 36  # what an owner holds, it keeps
    print(f"\n1,000 decisions beside 100,000 held values: {elapsed * 1000:.1f} ms")
