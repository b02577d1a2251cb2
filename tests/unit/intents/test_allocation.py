"""Allocation: never hand out a taken value, give an owner back what it holds."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from intentloop_intents import allocation
from intentloop_intents.allocation import (
    Allocation,
    Pool,
    PoolExhausted,
    Strategy,
    ValueUnavailable,
)


def vlans(strategy: Strategy = Strategy.LOWEST, **extra: object) -> Pool:
    fields: dict[str, object] = {"name": "vlans", "ranges": ((100, 104),), "strategy": strategy}
    return Pool.model_validate(fields | extra)


def held_by(*pairs: tuple[int, str], pool: str = "vlans") -> list[Allocation]:
    return [Allocation(pool=pool, value=v, owner=o) for v, o in pairs]


def test_the_lowest_free_value_is_chosen_and_named_after_pool_and_value() -> None:
    choice = allocation.choose(vlans(), "ns/c", held_by((100, "ns/a"), (102, "ns/b")))
    assert (choice.value, choice.name, choice.held) == (101, "vlans-101", False)


def test_an_owner_gets_back_the_value_it_already_holds() -> None:
    existing = held_by((100, "ns/a"), (103, "ns/c"))
    for strategy in Strategy:
        choice = allocation.choose(vlans(strategy), "ns/c", existing)
        assert (choice.value, choice.held) == (103, True)


def test_values_lost_in_a_create_race_are_skipped() -> None:
    choice = allocation.choose(vlans(), "ns/c", held_by((100, "ns/a")), also_taken={101, 102})
    assert choice.value == 103


def test_excluded_values_are_never_handed_out() -> None:
    pool = vlans(excluded=frozenset({100, 101}))
    assert list(allocation.candidates(pool, "ns/x", taken=[103])) == [102, 104]


def test_an_exhausted_pool_says_so_with_its_ranges() -> None:
    pool = vlans(ranges=((100, 101), (200, 200)))
    existing = held_by((100, "ns/a"), (101, "ns/b"), (200, "ns/c"))
    with pytest.raises(PoolExhausted, match=r"pool vlans \(100-101, 200\) has no free value left"):
        allocation.choose(pool, "ns/d", existing)


def test_spreading_starts_at_a_point_hashed_from_the_owner_and_wraps_around() -> None:
    pool = vlans(Strategy.SPREAD, ranges=((1, 4094),))
    starts = {next(allocation.candidates(pool, f"ns/s{i}", ())) for i in range(50)}
    assert len(starts) > 40  # different owners rarely try the same value first
    again = next(allocation.candidates(pool, "ns/s7", ()))
    assert again == next(allocation.candidates(pool, "ns/s7", ()))
    order = list(allocation.candidates(vlans(Strategy.SPREAD), "ns/s7", ()))
    values = [100, 101, 102, 103, 104]
    start = values.index(order[0])
    assert order == values[start:] + values[:start]


def test_a_requested_value_is_granted_only_if_free_and_in_the_pool() -> None:
    existing = held_by((100, "ns/a"))
    assert allocation.choose(vlans(), "ns/b", existing, requested=102).value == 102
    with pytest.raises(ValueUnavailable, match=r"^100 in pool vlans is already in use$"):
        allocation.choose(vlans(), "ns/b", existing, requested=100)
    with pytest.raises(ValueUnavailable, match=r"^101 in pool vlans is already in use$"):
        allocation.choose(vlans(), "ns/b", existing, requested=101, also_taken=[101])
    with pytest.raises(ValueUnavailable, match=r"7 is outside pool vlans \(100-104\)"):
        allocation.choose(vlans(), "ns/b", existing, requested=7)
    with pytest.raises(ValueUnavailable, match="104 is excluded"):
        allocation.choose(vlans(excluded=frozenset({104})), "ns/b", existing, requested=104)
    assert allocation.choose(vlans(), "ns/a", existing, requested=100).held


def test_a_second_value_left_by_a_race_is_surplus_to_delete() -> None:
    existing = held_by((103, "ns/a"), (101, "ns/a"), (102, "ns/b"))
    assert allocation.held(vlans(), "ns/a", existing) == 101
    assert [a.name for a in allocation.surplus(vlans(), "ns/a", existing)] == ["vlans-103"]


def test_allocations_of_other_pools_do_not_count() -> None:
    existing = held_by((100, "ns/a"), pool="other")
    assert allocation.choose(vlans(), "ns/b", existing).value == 100


def test_allocation_names_parse_back_only_for_their_own_pool() -> None:
    assert allocation.value_from_name("vlans", "vlans-101") == 101
    assert allocation.value_from_name("vlans", "vlans-1-5") is None
    assert allocation.value_from_name("vlans-1", "vlans-1-5") == 5
    assert allocation.value_from_name("vlans", "vlans-007") is None
    assert allocation.value_from_name("vlans", "other-101") is None


def test_choices_never_include_a_value_someone_else_holds() -> None:
    rng = random.Random(11)
    for _ in range(300):
        pool = vlans(rng.choice(list(Strategy)), ranges=((1, 30),))
        holders = rng.sample(range(1, 31), k=rng.randint(0, 29))
        existing = [Allocation(pool="vlans", value=v, owner=f"ns/o{v}") for v in holders]
        choice = allocation.choose(pool, "ns/me", existing)
        assert choice.value not in holders and 1 <= choice.value <= 30


def test_racing_replicas_with_stale_reads_converge_to_one_value_per_owner() -> None:
    # Replicas act on stale snapshots; only the API server's create (a name can exist once)
    # arbitrates. An owner may briefly win two values; `surplus` names the one to delete.
    rng = random.Random(3)
    for strategy in Strategy:
        pool = vlans(strategy, ranges=((1, 60),))
        objects: dict[str, Allocation] = {}  # the API server: name -> object
        history: list[list[Allocation]] = [[]]
        owners = [f"ns/o{i}" for i in range(40)]
        for owner in rng.sample(owners * 2, k=80):  # every owner reconciled by two replicas
            snapshot = rng.choice(history[-3:])
            lost: set[int] = set()
            while True:
                choice = allocation.choose(pool, owner, snapshot, also_taken=lost)
                if choice.held:
                    break
                if choice.name not in objects:  # create succeeded
                    objects[choice.name] = Allocation(pool="vlans", value=choice.value, owner=owner)
                    break
                lost.add(choice.value)  # 409 Conflict: someone else holds it
            history.append(list(objects.values()))
        final = list(objects.values())
        for owner in owners:
            for extra in allocation.surplus(pool, owner, final):
                del objects[extra.name]
        kept = list(objects.values())
        assert sorted(a.owner for a in kept) == sorted(owners)
        assert all(allocation.choose(pool, o, kept).held for o in owners)


def test_route_targets_fit_the_asn_size() -> None:
    assert allocation.route_target(65000, 4_000_000) == "65000:4000000"
    assert allocation.route_target(4_200_000_000, 7) == "4200000000:7"
    with pytest.raises(allocation.AllocationError, match="does not fit"):
        allocation.route_target(4_200_000_000, 70_000)


def test_a_pool_with_a_backwards_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="start is greater than end"):
        Pool(name="vlans", ranges=((10, 5),))
