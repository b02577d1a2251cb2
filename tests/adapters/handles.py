"""What the adapter contract suite needs from a lab device, whatever its protocol."""

from __future__ import annotations

from typing import Protocol

from intentloop_adapters.protocol import DeviceAdapter


class LabDeviceHandle(Protocol):
    """A running lab device (real netconfd, or a lab gNMI target) and its fault switches."""

    name: str

    def make_adapter(self) -> DeviceAdapter:
        """A new, not yet connected adapter for this device, verifying its host key / CA."""
        ...

    def reject_next_commit(self) -> None:
        """The device's next commit fails with the device's own error (rpc-error / gRPC)."""
        ...

    def tamper(self) -> None:
        """Change the device's running config behind the controller's back."""
        ...

    def trigger_change(self) -> None:
        """Cause something the adapter's subscription reports ON_CHANGE."""
        ...
