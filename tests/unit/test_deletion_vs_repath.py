"""Deleting a service and re-pathing it take the same lock: a deletion never races a re-path.

Real asyncio, the operator's real Runtime, Assurance loop, `services.realise` and deletion
handler; only the two edges are recorders — the devices (what each service has configured
on the network) and the Kubernetes objects (Allocations, pools). Ordering is controlled with
events and the lock's own contention, never with sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import kopf
import pytest

from intentloop_adapters import transactions as tx
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import changes, kube, services
from intentloop_operator.assurance import Assurance
from intentloop_operator.runtime import Runtime
from tests.unit.labelled import selected

OWNER = "tenant/svc"
SPEC = {
    "endpoints": [{"device": "r1", "interface": "eth1"}, {"device": "r3", "interface": "eth1"}],
    "bandwidthMbps": 10,
}
POOL = {
    "metadata": {"name": "vlans"},
    "spec": {"kind": "vlan", "ranges": [{"start": 100, "end": 199}]},
}


class CountingLock(asyncio.Lock):
    """The service's lock, telling the test when someone starts waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = 0
        self.contended = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.waiting += 1
            self.contended.set()
        return await super().acquire()


class Network:
    """What each service has configured on the devices, and the objects in the API server."""

    def __init__(self) -> None:
        self.configured: dict[str, Mapping[str, DeviceConfigTree]] = {}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            "resourcepools": {"vlans": POOL},
            "allocations": {},
        }
        self.repath_pushes = 0
        self.gate: asyncio.Event | None = None  # when set up, a re-path's push waits for it
        self.pushing = asyncio.Event()

    async def push(self, intent: changes.IntentRef, contributions: Any) -> changes.Applied:
        if contributions:
            self.configured[intent.owner] = contributions
        else:
            self.configured.pop(intent.owner, None)
        result = tx.TransactionResult(transaction_id="t", outcome=tx.Outcome.COMMITTED, devices={})
        return changes.Applied(result, f"{intent.namespace}/t")

    def allocations_of(self, owner: str) -> list[str]:
        return [n for n, a in self.objects["allocations"].items() if a["spec"]["owner"] == owner]


class Batcher:
    """Stands in for the batcher: a re-path's transaction goes straight to the network."""

    def __init__(self, network: Network) -> None:
        self.network = network

    async def submit(self, intent: changes.IntentRef, contributions: Any) -> changes.Applied:
        self.network.repath_pushes += 1
        if self.network.gate is not None:
            self.network.pushing.set()
            await self.network.gate.wait()
        return await self.network.push(intent, contributions)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    net = Network()

    async def list_objects(plural: str) -> list[dict[str, Any]]:
        return list(net.objects[plural].values())

    async def list_selected(plural: str, selector: str) -> list[dict[str, Any]]:
        return selected(net.objects[plural].values(), selector)

    async def create_object(plural: str, body: dict[str, Any], namespace: Any = None) -> Any:
        name = body["metadata"]["name"]
        if name in net.objects[plural]:
            raise kube.AlreadyExists(name)
        net.objects[plural][name] = body
        return body

    async def delete_object(plural: str, name: str, namespace: Any = None) -> None:
        net.objects[plural].pop(name, None)

    async def nothing(*_: Any, **__: Any) -> dict[str, Any]:
        return {}

    async def apply(rt: Any, pool: Any, intent: changes.IntentRef, contributions: Any) -> Any:
        return await net.push(intent, contributions)

    monkeypatch.setattr(kube, "list_objects", list_objects)
    monkeypatch.setattr(kube, "list_selected", list_selected)
    monkeypatch.setattr(kube, "create_object", create_object)
    monkeypatch.setattr(kube, "delete_object", delete_object)
    monkeypatch.setattr(kube, "patch_object", nothing)
    monkeypatch.setattr(kube, "post_event", nothing)
    monkeypatch.setattr(changes, "apply", apply)
    return net


def _runtime() -> Runtime:
    rt = Runtime()
    for device in ("r1", "r2", "r3"):
        rt.topology.upsert_device(device, reachable=True)
    for a, b in (("r1", "r2"), ("r2", "r3"), ("r1", "r3")):
        spec = {
            "a": {"device": a, "interface": f"core-{b}"},
            "b": {"device": b, "interface": f"core-{a}"},
            "capacityMbps": 1000,
        }
        rt.upsert_link(f"{a}-{b}", spec, {"operState": "up"})
    rt.ports.update({("r1", "eth1"): "tenant", ("r3", "eth1"): "tenant"})  # the tenant's ports
    return rt


async def _ready_service(rt: Runtime, network: Network) -> kopf.Memo:
    """The service as provisioning left it: on the network, its VLAN allocated, remembered."""
    batcher = Batcher(network)
    spec = NetworkServiceSpec.model_validate(SPEC)
    r, ids, applied = await services.realise(rt, batcher, "tenant", "svc", "uid-1", spec)  # type: ignore[arg-type]
    body = {
        "metadata": {"name": "svc", "namespace": "tenant", "uid": "uid-1", "generation": 1},
        "spec": SPEC,
        "status": {},
    }
    status = services.ready_status(body, r, ids, applied, "tenant")
    services.remember(rt, "tenant", "svc", body, status, r)
    network.repath_pushes = 0
    memo = kopf.Memo()
    memo.runtime, memo.sessions, memo.batcher = rt, None, batcher
    rt._service_locks[OWNER] = CountingLock()
    return memo


async def _until(done: Callable[[], bool], lock: CountingLock, *tasks: asyncio.Task[Any]) -> None:
    """Wait until `done()` holds or a task finished (a task that does not wait is a finding)."""
    while not done() and not any(t.done() for t in tasks):
        waiter = asyncio.ensure_future(lock.contended.wait())
        await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        lock.contended.clear()


def _delete(memo: kopf.Memo) -> asyncio.Task[None]:
    body = kopf.Body({"metadata": {"name": "svc", "namespace": "tenant"}})
    return asyncio.create_task(
        services.service_deleted(namespace="tenant", name="svc", body=body, memo=memo)
    )


async def test_a_deletion_during_a_repath_waits_for_it_then_removes_everything(
    network: Network,
) -> None:
    rt = _runtime()
    memo = await _ready_service(rt, network)
    lock = rt._service_locks[OWNER]
    assert isinstance(lock, CountingLock)
    loop = Assurance(rt, memo.batcher)
    network.gate = asyncio.Event()
    repath = asyncio.create_task(loop.remediate(OWNER, "a link on its path changed state"))
    await network.pushing.wait()  # the re-path's transaction is in flight

    deletion = _delete(memo)
    await _until(lambda: lock.waiting >= 1, lock, deletion)
    assert not deletion.done(), "the deletion ran while the re-path was pushing config"
    assert network.allocations_of(OWNER), "the deletion released the VLAN mid-re-path"

    network.gate.set()
    await asyncio.gather(repath, deletion)
    assert network.repath_pushes == 1
    assert OWNER not in network.configured, "the re-path's config outlived the deletion"
    assert network.allocations_of(OWNER) == []
    assert OWNER not in rt.services and rt.topology.reservation(OWNER) is None


async def test_a_repath_waiting_for_the_lock_finds_the_service_deleted_and_does_nothing(
    network: Network,
) -> None:
    rt = _runtime()
    memo = await _ready_service(rt, network)
    lock = rt._service_locks[OWNER]
    assert isinstance(lock, CountingLock)
    loop = Assurance(rt, memo.batcher)
    await lock.acquire()  # an earlier pass of the service (its kopf handler) is running

    deletion = _delete(memo)
    await _until(lambda: lock.waiting >= 1, lock, deletion)
    repath = asyncio.create_task(loop.remediate(OWNER, "a link on its path changed state"))
    await _until(lambda: lock.waiting >= 2, lock, deletion, repath)
    lock.release()  # the deletion is first in line, the re-path right behind it
    await asyncio.gather(deletion, repath)

    assert network.repath_pushes == 0, "a re-path pushed a deleted service's config"
    assert OWNER not in network.configured
    assert network.allocations_of(OWNER) == [], "a re-path re-created the deleted VLAN"
    assert OWNER not in rt.services
