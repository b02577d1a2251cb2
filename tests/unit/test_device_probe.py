"""A reachable device is declared unreachable only after consecutive failed probes."""

from __future__ import annotations

from typing import Any, cast

import kopf
import pytest

from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_operator import devices

SPEC = {"address": "127.0.0.1", "platform": "lab", "gnmi": {"port": 1, "insecure": True}}


def _body(reachable: bool | None) -> kopf.Body:
    status: dict[str, Any] = {} if reachable is None else {"reachable": reachable}
    raw = {"metadata": {"name": "r9", "generation": 1}, "spec": SPEC, "status": status}
    return kopf.Body(cast(Any, raw))


@pytest.fixture(autouse=True)
def _fresh() -> None:
    devices._misses.clear()


def _observing(monkeypatch: pytest.MonkeyPatch, outcomes: list[Exception | None]) -> None:
    async def observe(name: str, spec: Any) -> dict[str, Any]:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {"reachable": True}

    monkeypatch.setattr(devices, "observe", observe)


async def _probe(reachable: bool | None) -> dict[str, Any]:
    patch = kopf.Patch()
    await devices.reconcile("r9", _body(reachable), patch)
    return dict(patch.get("status", {}))


async def test_one_timeout_keeps_a_reachable_device_reachable_two_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeout = TransientDeviceError("r9", "timed out")
    _observing(monkeypatch, [timeout, timeout])
    assert await _probe(True) == {}  # status left as the last good probe wrote it
    assert (await _probe(True))["reachable"] is False


async def test_a_good_probe_between_failures_starts_counting_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeout = TransientDeviceError("r9", "timed out")
    _observing(monkeypatch, [timeout, None, timeout])
    assert await _probe(True) == {}
    assert (await _probe(True))["reachable"] is True
    assert await _probe(True) == {}


async def test_a_device_never_seen_or_refusing_is_unreachable_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _observing(
        monkeypatch,
        [TransientDeviceError("r9", "connection refused"), PermanentDeviceError("r9", "host key")],
    )
    assert (await _probe(None))["reachable"] is False
    assert (await _probe(True))["reachable"] is False
