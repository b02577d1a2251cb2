"""A dry run previews the VLAN provisioning would take (same function, same strategy), and
its refusals name no other tenant's intent.

The Kubernetes calls of `allocations` are answered by a small in-memory store with the
API server's one property that matters here: creating a name that exists is a conflict.
"""

from __future__ import annotations

import itertools
import types
from typing import Any

import pytest

from intentloop_intents import allocation as alloc
from intentloop_intents import composition
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import allocations, identifiers, kube, planning
from intentloop_operator.runtime import Runtime
from tests.unit.labelled import selected


class Store:
    def __init__(self, pools: list[dict[str, Any]], held: dict[int, str]) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"resourcepools": {}}
        self.objects["allocations"] = {}
        for p in pools:
            self.objects["resourcepools"][p["metadata"]["name"]] = p
        first = pools[0]["metadata"]["name"]
        for value, owner in held.items():
            name = alloc.allocation_name(first, value)
            self.objects["allocations"][name] = {
                "metadata": {"name": name, "labels": {allocations.POOL_LABEL: first}},
                "spec": {"pool": first, "value": value, "owner": owner, "ownerUid": "u"},
            }

    async def list_objects(self, plural: str) -> list[dict[str, Any]]:
        return list(self.objects[plural].values())

    async def list_selected(self, plural: str, selector: str) -> list[dict[str, Any]]:
        return selected(self.objects[plural].values(), selector)

    async def create_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body["metadata"]["name"]
        if name in self.objects[plural]:
            raise kube.AlreadyExists(name)
        self.objects[plural][name] = body
        return body


def _pool(name: str, start: int, end: int, exclude: tuple[int, ...] = ()) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"kind": "vlan", "ranges": [{"start": start, "end": end}], "exclude": [*exclude]},
    }


SMALL = [_pool("edge-vlans", 100, 119, exclude=(105,)), _pool("more-vlans", 200, 209)]
STATES: list[dict[int, str]] = [
    {},
    {v: f"other/s{v}" for v in range(100, 112)},
    {v: f"other/s{v}" for v in range(100, 120)},  # the first pool is full
    {113: "tenant-a/svc-3", 101: "other/x"},  # svc-3 already holds 113
]


def _install(monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    monkeypatch.setattr(kube, "list_objects", store.list_objects)
    monkeypatch.setattr(kube, "list_selected", store.list_selected)
    monkeypatch.setattr(kube, "create_object", store.create_object)


@pytest.mark.parametrize(("state", "requested"), list(itertools.product(STATES, [None, 202, 113])))
async def test_the_preview_is_what_take_then_takes(
    monkeypatch: pytest.MonkeyPatch, state: dict[int, str], requested: int | None
) -> None:
    for i in range(12):
        owner = f"tenant-a/svc-{i}"
        store = Store(SMALL, state)
        _install(monkeypatch, store)
        before = dict(store.objects["allocations"])
        try:
            shown = await allocations.preview(
                allocations.AllocationCache(), "vlan", owner, requested=requested
            )
        except alloc.AllocationError as e:
            with pytest.raises(type(e)):
                await allocations.take(
                    allocations.AllocationCache(), "vlan", owner, "uid", requested=requested
                )
            continue
        assert dict(store.objects["allocations"]) == before  # the preview took nothing
        taken = await allocations.take(
            allocations.AllocationCache(), "vlan", owner, "uid", requested=requested
        )
        assert shown == taken, (owner, state, requested)


async def test_the_preview_spreads_like_provisioning_rather_than_taking_the_lowest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install(monkeypatch, Store([_pool("vlans", 100, 4000)], {}))
    shown = {
        await allocations.preview(allocations.AllocationCache(), "vlan", f"ns/s{i}")
        for i in range(20)
    }
    assert len(shown) > 10  # hashed starting points, not "100" twenty times
    assert min(shown) > 100


def test_a_conflict_in_a_plan_says_where_and_what_but_not_whose() -> None:
    e = composition.ConfigConflict(
        "r3", "interface eth2", "mtu", 1500, 9000, "wanted by tenant-a/x and by tenant-b/y"
    )
    message = planning.conflict_message(e)
    assert "r3" in message and "interface eth2" in message and "mtu" in message
    assert "tenant-b" not in message and "tenant-a" not in message
    assert "tenant-b" in str(e)  # the raw one does name them: that is why it is rewritten


def _network(*links: tuple[str, str]) -> Runtime:
    """A runtime whose topology has these links (ports `core-<peer>`), 1 Gbit/s each."""
    rt = Runtime()
    for device in sorted({d for link in links for d in link}):
        rt.topology.upsert_device(device, reachable=True)
    for a, b in links:
        spec = {
            "a": {"device": a, "interface": f"core-{b}"},
            "b": {"device": b, "interface": f"core-{a}"},
            "capacityMbps": 1000,
        }
        rt.upsert_link(f"{a}-{b}", spec, {"operState": "up"})
    return rt


def _spec(**extra: Any) -> NetworkServiceSpec:
    body = {
        "endpoints": [{"device": "r3", "interface": "eth2"}, {"device": "r6", "interface": "eth2"}],
        "bandwidthMbps": 10,
    }
    return NetworkServiceSpec.model_validate(body | extra)


async def test_a_requested_vlan_held_by_another_tenant_is_refused_without_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install(monkeypatch, Store([_pool("service-vlans", 100, 999)], {}))
    rt = _network(("r3", "r6"), ("r3", "r5"))
    theirs = _spec(
        endpoints=[
            {"device": "r3", "interface": "eth2", "vlan": 692},
            {"device": "r5", "interface": "eth2"},
        ]
    )
    await identifiers.take(rt.allocations, "tenant-b/branch", "u-b", theirs, ["r3-r5"])
    with pytest.raises(planning.Refused) as refused:
        await planning.preview_identifiers(rt, "tenant-a", "mine", _spec(vlan=692))
    message = str(refused.value)
    assert "spec.vlan at r3 eth2: VLAN 692 is already in use on that port" in message
    assert "tenant-b" not in message and "branch" not in message
    with pytest.raises(planning.Refused, match=r"spec\.vlan: VLAN 5 is in none of the pools"):
        await planning.preview_identifiers(rt, "tenant-a", "mine", _spec(vlan=5))
    at_b = _spec(
        endpoints=[
            {"device": "r3", "interface": "eth2"},
            {"device": "r6", "interface": "eth2", "vlan": 692},
        ]
    )
    _, shown = await planning.preview_identifiers(rt, "tenant-a", "mine", at_b)
    assert shown.endpoint_vlans[1] == 692  # the same tag on another port is free


async def test_the_identifiers_previewed_are_the_ones_provisioning_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store([_pool("service-vlans", 100, 119)], {})
    _install(monkeypatch, store)
    rt = _network(("r3", "r4"), ("r4", "r6"))
    for i in range(15):
        owner, spec = f"tenant-a/s{i}", _spec()
        _, shown = await planning.preview_identifiers(rt, "tenant-a", f"s{i}", spec)
        before = len(store.objects["allocations"])
        taken = await identifiers.take(rt.allocations, owner, f"u{i}", spec, ["r3-r4", "r4-r6"])
        assert shown == taken
        assert len(store.objects["allocations"]) == before + 5  # 2 ports, 2 links, 1 id
    held = [a["spec"] for a in store.objects["allocations"].values()]
    on_link = [a["value"] for a in held if a["pool"] == "link.r3-r4"]
    assert len(set(on_link)) == 15  # per link: never twice


async def test_no_pool_at_all_is_a_refusal_a_person_can_act_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = Store([_pool("x", 1, 2)], {})
    store.objects["resourcepools"].clear()
    _install(monkeypatch, store)
    with pytest.raises(planning.Refused, match="no VLAN pool exists yet"):
        await planning.preview_identifiers(_network(("r3", "r6")), "ns", "s", _spec())


def test_pick_keeps_what_the_owner_holds_in_any_pool_and_honours_a_request() -> None:
    a = alloc.Pool(name="a-vlans", ranges=((1, 10),), strategy=alloc.Strategy.SPREAD)
    b = alloc.Pool(name="b-vlans", ranges=((20, 30),), strategy=alloc.Strategy.SPREAD)
    mine = alloc.Allocation(pool="b-vlans", value=25, owner="ns/s")
    pool, choice = alloc.pick([a, b], "ns/s", [mine])
    assert (pool.name, choice.value, choice.held) == ("b-vlans", 25, True)
    pool, choice = alloc.pick([b, a], "ns/t", [mine], requested=7)
    assert (pool.name, choice.value, choice.held) == ("a-vlans", 7, False)
    with pytest.raises(alloc.ValueUnavailable, match="15 is in none of the pools"):
        alloc.pick([a, b], "ns/t", [], requested=15)


def _dry_run_body() -> Any:
    import kopf

    raw = {
        "metadata": {"name": "p", "namespace": "tenant-a"},
        "spec": {"dryRun": True, "intentRef": {"kind": "NetworkService", "name": "s"}},
    }
    return kopf.Body(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "retry", "outcome"),
    [
        (composition.ConfigConflict("r3", "vlan 692", "name", "a", "b", "tenant-b/x"), 0, "msg"),
        (RuntimeError("bug mentioning tenant-b/x"), 0, "internal"),
        (ConnectionResetError("tenant-b/x"), 0, "retry"),
        (ConnectionResetError("tenant-b/x"), planning.MAX_TRANSIENT_RETRIES, "internal"),
    ],
)
async def test_a_dry_run_handler_lets_nothing_through_with_its_own_words(
    monkeypatch: pytest.MonkeyPatch, error: Exception, retry: int, outcome: str
) -> None:
    import kopf

    def route(*_: Any) -> Any:
        raise error

    async def service(*_: Any) -> Any:
        return "s", types.SimpleNamespace(endpoints=())

    monkeypatch.setattr(planning, "_service", service)
    monkeypatch.setattr(planning.ports, "check", lambda *_: (None, None))  # ports are theirs
    monkeypatch.setattr(planning.routing, "route", route)
    patch = kopf.Patch()
    memo = kopf.Memo(runtime=Runtime(), sessions=None)
    if outcome == "retry":
        with pytest.raises(kopf.TemporaryError) as raised:
            await planning.dry_run("tenant-a", "p", _dry_run_body(), patch, memo, retry)
        assert "tenant-b" not in str(raised.value)
        return
    await planning.dry_run("tenant-a", "p", _dry_run_body(), patch, memo, retry)
    status = patch["status"]
    assert status["phase"] == "Failed" and "tenant-b" not in status["message"]
    if outcome == "internal":
        assert status["message"] == planning.INTERNAL
    else:
        assert status["message"].startswith("r3: vlan 692 is already configured by another")
