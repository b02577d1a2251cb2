"""Sessions are opened ahead of the first change, in the background, under the lock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from intentloop_adapters import factory
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_operator import sessions

SPEC = DeviceSpec.model_validate(
    {"address": "127.0.0.1", "platform": "lab", "gnmi": {"port": 1, "insecure": True}}
)


class _Adapter:
    def __init__(self, fail: bool) -> None:
        self.fail, self.connected, self.closed = fail, False, False

    async def connect(self) -> None:
        if self.fail:
            raise ConnectionError("refused")
        self.connected = True

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[_Adapter]:
    adapters: list[_Adapter] = []

    async def credentials(spec: Any) -> factory.Credentials:
        return factory.Credentials()

    def config_adapter(name: str, spec: Any, creds: Any) -> _Adapter:
        adapters.append(_Adapter(fail=name == "down"))
        return adapters[-1]

    monkeypatch.setattr(sessions.device_handlers, "credentials", credentials)
    monkeypatch.setattr(sessions.factory, "config_adapter", config_adapter)
    return adapters


async def test_a_warmed_session_is_the_one_the_first_change_gets(made: list[_Adapter]) -> None:
    pool, lock = sessions.SessionPool(), asyncio.Lock()
    pool.warm("r1", SPEC, lock)
    pool.warm("r1", SPEC, lock)  # on its way: the second finds it open under the lock
    await asyncio.gather(*pool._warming)
    pool.warm("r1", SPEC, lock)  # open: nothing more
    assert len(made) == 1 and made[0].connected
    assert await pool.get("r1", SPEC) is made[0]  # type: ignore[comparison-overlap]


async def test_warming_waits_for_the_device_lock_and_a_failure_stays_quiet(
    made: list[_Adapter],
) -> None:
    pool, lock = sessions.SessionPool(), asyncio.Lock()
    async with lock:  # a transaction holds the device
        pool.warm("down", SPEC, lock)
        await asyncio.sleep(0.01)
        assert made == []
    await asyncio.gather(*pool._warming)
    assert len(made) == 1 and not made[0].connected
    assert "down" not in pool._open
