"""An idle drift check reads nothing: the DeviceConfig (which grows with the device) is
read only when the result to record differs from what this process last recorded."""

from __future__ import annotations

from typing import Any

import pytest

from intentloop_operator import driftcheck, kube


class Store:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {"inSync": True, "deviations": []}
        self.gets = 0
        self.patches: list[dict[str, Any]] = []

    async def get_object(self, plural: str, name: str, *_: Any) -> dict[str, Any]:
        self.gets += 1
        return {"metadata": {"name": name}, "status": dict(self.status)}

    async def patch_object(self, plural: str, name: str, body: Any, *_: Any, **__: Any) -> Any:
        self.patches.append(body["status"])
        self.status.update(body["status"])
        return {}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    fake = Store()
    driftcheck._recorded.clear()
    monkeypatch.setattr(kube, "get_object", fake.get_object)
    monkeypatch.setattr(kube, "patch_object", fake.patch_object)
    monkeypatch.setattr(driftcheck.kopf, "event", lambda *a, **k: None)
    return fake


async def test_a_device_that_stays_in_sync_is_read_once_then_never_again(store: Store) -> None:
    for _ in range(5):
        await driftcheck._record("r1", [], repaired=False)
    assert store.gets == 1 and store.patches == []


async def test_a_new_result_is_read_and_written_then_the_same_result_is_not(store: Store) -> None:
    from intentloop_intents.drift import Deviation

    found = [Deviation(path="interface[name=eth1]", intended="up", actual="down")]
    await driftcheck._record("r1", [], repaired=False)
    await driftcheck._record("r1", found, repaired=False)
    await driftcheck._record("r1", found, repaired=False)
    assert store.gets == 2
    assert [p["inSync"] for p in store.patches] == [False]
    await driftcheck._record("r1", [], repaired=False)  # back in sync: written again
    assert [p["inSync"] for p in store.patches] == [False, True]
