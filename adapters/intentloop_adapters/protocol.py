"""The seam between intentloop and a device: one protocol every adapter implements.

The methods are async because the operator is; adapters built on blocking libraries
(ncclient, pygnmi) run those calls in a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from intentloop_intents.device import DeviceConfigTree


class DeviceCapabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    software_version: str = ""
    platform: str = ""
    models: tuple[str, ...] = ()
    confirmed_commit: bool = False
    notifications: bool = False
    raw: tuple[str, ...] = Field(default=(), description="The device's own capability strings")


class TelemetryUpdate(BaseModel):
    """One leaf value from a device: a path in the lab's state tree, a value, a timestamp."""

    model_config = ConfigDict(frozen=True)

    device: str
    path: str
    value: str | int | float | bool | None
    timestamp_ns: int
    sync: bool = False


@runtime_checkable
class DeviceAdapter(Protocol):
    """What intentloop needs from any device, whatever protocol it speaks."""

    name: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def capabilities(self) -> DeviceCapabilities: ...

    async def get_config(self) -> DeviceConfigTree:
        """The running configuration of intentloop's subtree, parsed into the model."""
        ...

    async def native_diff(self, desired: DeviceConfigTree) -> str:
        """What `stage(desired)` would change, in the device's own language; '' if nothing."""
        ...

    async def stage(self, desired: DeviceConfigTree) -> str:
        """Prepare the change to `desired` (lock, edit candidate / save rollback); return diff."""
        ...

    async def commit(self, confirm_timeout_s: int) -> None:
        """Make the staged change running; it reverts by itself unless confirmed in time."""
        ...

    async def confirm(self) -> None:
        """Make the committed change permanent and release the lock."""
        ...

    async def rollback(self) -> None:
        """Return to the configuration before `stage`, whatever phase we are in; idempotent."""
        ...

    def subscribe(self, paths: Sequence[str]) -> AsyncIterator[TelemetryUpdate]:
        """Stream of updates for `paths` (ON_CHANGE for state, SAMPLE for counters)."""
        ...


def held_by(adapter: object, tree: DeviceConfigTree) -> DeviceConfigTree:
    """What `adapter`'s device holds of `tree` once applied, i.e. what `get_config` returns:
    the canonical tree, without owners on devices that have no place for them
    (`stores_owners = False`, e.g. an OpenConfig router)."""
    if getattr(adapter, "stores_owners", True):
        return tree.canonical()
    return tree.without_owners()
