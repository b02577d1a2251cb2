"""A reachable device is declared unreachable only after failed probes over time."""

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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    devices._misses.clear()
    fake = Clock()
    monkeypatch.setattr(devices, "clock", fake)
    monkeypatch.setattr(devices, "UNREACHABLE_AFTER_S", 20.0)
    return fake


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


async def test_one_timeout_keeps_a_reachable_device_reachable_two_an_interval_apart_do_not(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    timeout = TransientDeviceError("r9", "timed out")
    _observing(monkeypatch, [timeout, timeout])
    assert await _probe(True) == {}  # status left as the last good probe wrote it
    clock.now += 20.0
    assert (await _probe(True))["reachable"] is False


async def test_misses_landing_together_under_load_are_not_an_outage_until_time_says_so(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    """The restart finding: two probes failing 0.34 s apart flipped busy devices to
    unreachable and raised false alarms. Misses count in time, not in number."""
    timeout = TransientDeviceError("r9", "Capability exchange timed out")
    _observing(monkeypatch, [timeout, timeout, timeout, timeout])
    assert await _probe(True) == {}
    clock.now += 0.34
    assert await _probe(True) == {}
    clock.now += 5.0
    assert await _probe(True) == {}
    clock.now += 15.0  # failing for 20.34 s now, without a good probe between
    assert (await _probe(True))["reachable"] is False


async def test_a_good_probe_between_failures_starts_counting_again(
    monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    timeout = TransientDeviceError("r9", "timed out")
    _observing(monkeypatch, [timeout, None, timeout])
    assert await _probe(True) == {}
    clock.now += 20.0
    assert (await _probe(True))["reachable"] is True
    clock.now += 20.0
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


class _Runtime:
    def __init__(self, heard: dict[str, float]) -> None:
        self.heard = heard


async def _timer(monkeypatch: pytest.MonkeyPatch, heard: dict[str, float]) -> list[str]:
    probed: list[str] = []

    async def reconcile(name: str, body: Any, patch: Any) -> None:
        probed.append(name)

    monkeypatch.setattr(devices, "reconcile", reconcile)
    memo = kopf.Memo()
    memo.runtime = _Runtime(heard)
    await devices.device_probe(name="r9", body=_body(True), patch=kopf.Patch(), memo=memo)
    return probed


async def test_a_device_whose_telemetry_streams_is_not_probed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    assert await _timer(monkeypatch, {"r9": time.monotonic()}) == []


async def test_a_device_whose_stream_is_silent_or_gone_is_probed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    silent = time.monotonic() - devices.PROBE_INTERVAL_S - 1
    assert await _timer(monkeypatch, {"r9": silent}) == ["r9"]
    assert await _timer(monkeypatch, {}) == ["r9"]
