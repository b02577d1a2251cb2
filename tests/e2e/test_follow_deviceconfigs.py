"""The operator follows DeviceConfigs by metadata only, against the real API server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from intentloop_intents.device import DeviceConfigTree, Vlan
from intentloop_operator import desired, kube
from intentloop_operator.runtime import Runtime
from tests.e2e.conftest import Cluster

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _config(vlan: int) -> dict[str, Any]:
    tree = DeviceConfigTree(vlans=(Vlan(vlan_id=vlan, name=f"v{vlan}", owners=frozenset({"a/b"})),))
    return tree.model_dump(mode="json", by_alias=True, exclude_none=True)


def _wait(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def our_client(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "api_client", lambda: cluster.api)


@pytest.mark.usefixtures("our_client")
def test_metadata_events_carry_generations_and_never_the_tree(
    cluster: Cluster, unique: Callable[[str], str]
) -> None:
    name = unique("follow")
    seen: list[tuple[str, dict[str, Any]]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=kube.follow_metadata,
        args=("deviceconfigs", lambda k, m: seen.append((k, m)), stop),
        daemon=True,
    )
    thread.start()
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DeviceConfig",
        "metadata": {"name": name},
        "spec": {"device": name, "config": _config(10)},
    }
    try:
        time.sleep(0.5)  # listed and watching
        cluster.custom.create_cluster_custom_object(GROUP, VERSION, "deviceconfigs", body)
        _wait(lambda: any(m.get("name") == name for _, m in seen), "the create")
        patch = {"spec": {"config": _config(20)}}
        cluster.custom.patch_cluster_custom_object(GROUP, VERSION, "deviceconfigs", name, patch)
        _wait(
            lambda: any(m.get("name") == name and m.get("generation") == 2 for _, m in seen),
            "generation 2",
        )
        cluster.custom.delete_cluster_custom_object(GROUP, VERSION, "deviceconfigs", name)
        _wait(lambda: ("DELETED", name) in {(k, m.get("name")) for k, m in seen}, "the delete")
    finally:
        stop.set()
    ours = [(k, m) for k, m in seen if m.get("name") == name]
    assert [k for k, _ in ours] == ["ADDED", "MODIFIED", "DELETED"]
    assert all("spec" not in m and "generation" in m for _, m in ours)


@pytest.mark.usefixtures("our_client")
def test_a_newer_generation_written_elsewhere_replaces_the_desired_tree_ours_does_not(
    cluster: Cluster, unique: Callable[[str], str]
) -> None:
    name = unique("follow")
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DeviceConfig",
        "metadata": {"name": name},
        "spec": {"device": name, "config": _config(10)},
    }
    created = cluster.custom.create_cluster_custom_object(GROUP, VERSION, "deviceconfigs", body)
    rt = Runtime()
    rt.desired[name] = DeviceConfigTree()  # what "we" wrote last, at generation 1
    rt.desired_generation[name] = int(created["metadata"]["generation"])

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(desired.follow(rt, stop))
        await asyncio.sleep(1.0)
        assert rt.desired[name] == DeviceConfigTree()  # generation 1 is ours: untouched
        patch = {"spec": {"config": _config(30)}}  # another replica writes generation 2
        await asyncio.to_thread(
            cluster.custom.patch_cluster_custom_object, GROUP, VERSION, "deviceconfigs", name, patch
        )
        for _ in range(200):
            if rt.desired_generation[name] == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(run())
    finally:
        cluster.custom.delete_cluster_custom_object(GROUP, VERSION, "deviceconfigs", name)
    assert rt.desired_generation[name] == 2
    assert [v.vlan_id for v in rt.desired[name].vlans] == [30]
