"""Connected adapters, one per device, reused across transactions.

Opening a NETCONF session costs an SSH handshake; keeping one per device makes a
transaction cost what the device's commit costs. Sessions are used under the device's
lock only, dropped on any device error (the next use reconnects), and dropped when the
Device's spec changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intentloop_adapters import factory
from intentloop_adapters.protocol import DeviceAdapter
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_operator import devices as device_handlers
from intentloop_operator import logs

log = logs.get("intentloop.sessions")


class UnknownDevice(Exception):
    pass


@dataclass
class SessionPool:
    _open: dict[str, tuple[DeviceSpec, DeviceAdapter]] = field(default_factory=dict)

    async def get(self, name: str, spec: DeviceSpec | None) -> DeviceAdapter:
        if spec is None:
            raise UnknownDevice(f"device {name} is not in the inventory")
        held = self._open.get(name)
        if held is not None and held[0] == spec:
            return held[1]
        if held is not None:
            await self.drop(name)
        creds = await device_handlers.credentials(spec)
        adapter = factory.config_adapter(name, spec, creds)
        await adapter.connect()
        self._open[name] = (spec, adapter)
        return adapter

    async def drop(self, name: str) -> None:
        held = self._open.pop(name, None)
        if held is None:
            return
        try:
            await held[1].close()
        except Exception:
            log.info("session.close.failed", device=name)

    async def close_all(self) -> None:
        for name in list(self._open):
            await self.drop(name)
