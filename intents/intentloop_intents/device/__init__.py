"""The device configuration model: what intentloop configures on a device, vendor-neutral."""

from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    Policer,
    StaticRoute,
    SubInterface,
    Vlan,
    Vrf,
)

__all__ = [
    "DeviceConfigTree",
    "Interface",
    "Policer",
    "StaticRoute",
    "SubInterface",
    "Vlan",
    "Vrf",
]
