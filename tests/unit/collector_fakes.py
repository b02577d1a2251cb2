"""A scripted telemetry source for collector processes, and a tiny operator stand-in.

`scripted` is what a collector process calls instead of the adapters' factory (the pool
names it by `module:function`, so it is imported inside the spawned process). The Device's
`platform` field is the script, `mode:argument`:

  flap:N                oper-status of eth1 goes UP, DOWN, UP, ... N times, ends DOWN, then
                        stays quiet
  ticker:MS             latency-ms of eth1 counts up every MS milliseconds, forever
  burst:N               latency-ms of eth1 counts 0 .. N-1 at once, then the device ends the
                        stream
  flood:                a new path every update, as fast as the collector takes them
  break:                the stream fails with the device's error once synced
  end:                  the device ends the stream once synced
  refuse:               connecting fails

Every script except `refuse` demands the password `PASSWORD`: credentials must reach the
collector (over the pipe) intact.

`python -m tests.unit.collector_fakes` starts a pool of two collectors, prints their pids
and waits forever: the stand-in for an operator that gets killed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence

from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_adapters.factory import Credentials
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.resources.inventory import DeviceSpec

FACTORY = "tests.unit.collector_fakes:scripted"
PASSWORD = "not-a-real-secret-4711"
OPER = "/interfaces/interface[name=eth1]/state/oper-status"
LATENCY = "/interfaces/interface[name=eth1]/state/latency-ms"


class ScriptedTelemetry:
    def __init__(self, name: str, script: str, password: str | None) -> None:
        self.name = name
        self.mode, _, self.argument = script.partition(":")
        self._password = password

    async def connect(self) -> None:
        if self.mode == "refuse":
            raise TransientDeviceError(self.name, "connection refused")
        if self._password != PASSWORD:
            raise PermanentDeviceError(self.name, "wrong credentials")

    async def close(self) -> None:
        return None

    def _update(self, path: str, value: str | float, *, sync: bool = False) -> TelemetryUpdate:
        return TelemetryUpdate(
            device=self.name, path=path, value=value, timestamp_ns=time.time_ns(), sync=sync
        )

    async def subscribe(self, paths: Sequence[str]) -> AsyncIterator[TelemetryUpdate]:
        yield self._update("", "", sync=True)
        if self.mode == "flap":
            for n in range(int(self.argument)):
                yield self._update(OPER, "DOWN" if n % 2 else "UP")
            yield self._update(OPER, "DOWN")
        elif self.mode == "ticker":
            for n in itertools.count():
                yield self._update(LATENCY, float(n))
                await asyncio.sleep(float(self.argument) / 1000)
        elif self.mode == "burst":
            for n in range(int(self.argument)):
                yield self._update(LATENCY, float(n))
            return
        elif self.mode == "flood":
            for n in itertools.count():
                yield self._update(f"/interfaces/interface[name=if{n}]/state/out-rate-mbps", 1.0)
                if n % 256 == 0:
                    await asyncio.sleep(0)
        elif self.mode == "break":
            raise TransientDeviceError(self.name, "stream reset by peer")
        elif self.mode == "end":
            return
        await asyncio.Event().wait()  # quiet, like a device with nothing new to say


def scripted(name: str, spec: DeviceSpec, creds: Credentials) -> ScriptedTelemetry:
    return ScriptedTelemetry(name, spec.platform, creds.gnmi_password)


def device(script: str) -> dict[str, object]:
    """The Device spec (as the operator sends it) that runs `script`."""
    return {"address": "192.0.2.1", "platform": script, "gnmi": {"port": 9339, "insecure": True}}


def credentials() -> Credentials:
    return Credentials(gnmi_username="telemetry", gnmi_password=PASSWORD)


def main() -> None:
    from intentloop_operator import logs
    from intentloop_operator.collectors import CollectorPool

    logs.configure()  # JSON lines on stderr; stdout carries only the pids

    async def run() -> None:
        pool = CollectorPool(2, apply=lambda _updates: None, adapter_factory=FACTORY)
        pool.start()
        print(" ".join(str(pid) for pid in pool.pids()), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
