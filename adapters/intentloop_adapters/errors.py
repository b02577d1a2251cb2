"""The two kinds of device failure the rest of intentloop distinguishes.

Only the operator turns these into kopf errors and status conditions.
"""

from __future__ import annotations


class DeviceError(Exception):
    """A device operation failed; `device` names the device, the message is the device's own."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
        self.device_message = message


class TransientDeviceError(DeviceError):
    """Worth retrying: timeout, lock held by someone else, device unreachable."""


class PermanentDeviceError(DeviceError):
    """Retrying the same change will fail again: rpc-error, rejected value, bad credentials."""
