"""Commit-confirmed for devices that cannot revert by themselves: a saved config and a timer.

States: idle → staged (running config saved, edits computed) → committed (edits applied,
timer armed) → confirmed; the timer or `rollback` restores the saved config. The saved
config is kept after confirm until the next stage, because a network-wide transaction rolls
back devices that already confirmed when a later device fails. A commit
whose outcome is unknown (a timeout: the device may or may not have applied it) counts as
applied, so `rollback` restores in that case too. A commit the device refused changed nothing
(gNMI Sets are atomic), so there is nothing to restore.

All methods block (they talk to the device) and are called from worker threads; one lock
serialises them with the timer, so a confirm racing the timer either wins (the change stays)
or loses and is told the device has already reverted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Literal

import structlog

from intentloop_adapters.errors import DeviceError, PermanentDeviceError, TransientDeviceError
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device.gnmi_json import Edit

log = structlog.get_logger(__name__)
State = Literal[
    "idle", "staged", "committing", "committed", "confirmed", "reverted", "revert_failed"
]
_APPLIED: tuple[State, ...] = ("committing", "committed", "confirmed", "revert_failed")


class SavedConfigTransaction:
    def __init__(self, *, name: str, restore: Callable[[DeviceConfigTree], None]) -> None:
        self._name = name
        self._restore = restore
        self._lock = threading.Lock()
        self._state: State = "idle"
        self._saved: DeviceConfigTree | None = None
        self._edits: tuple[Edit, ...] = ()
        self._timer: threading.Timer | None = None

    @property
    def state(self) -> State:
        return self._state

    def stage(self, running: DeviceConfigTree, edits: Sequence[Edit]) -> None:
        with self._lock:
            if self._state in ("committing", "committed", "revert_failed"):
                raise PermanentDeviceError(
                    self._name, "a committed change is still pending; confirm or roll back first"
                )
            self._state, self._saved, self._edits = "staged", running, tuple(edits)

    def commit(
        self,
        confirm_timeout_s: float,
        *,
        running: Callable[[], DeviceConfigTree],
        apply: Callable[[Sequence[Edit]], None],
    ) -> None:
        """Apply the staged edits in one Set; arm the timer that reverts them."""
        with self._lock:
            if self._state != "staged" or self._saved is None:
                raise PermanentDeviceError(
                    self._name, f"commit without a staged change ({self._state})"
                )
            if not self._edits:
                self._state = "committed"
                return
            if running() != self._saved:
                self._state = "idle"
                raise TransientDeviceError(
                    self._name, "the running configuration changed since stage; stage again"
                )
            self._state = "committing"
            try:
                apply(self._edits)
            except PermanentDeviceError:
                self._state = "staged"  # refused as a whole: nothing was applied
                raise
            self._state = "committed"
            self._timer = threading.Timer(confirm_timeout_s, self._expire)
            self._timer.daemon = True
            self._timer.start()
        log.info("gnmi.commit.applied", device=self._name, confirm_timeout_s=confirm_timeout_s)

    def confirm(self) -> None:
        with self._lock:
            self._cancel_timer()
            if self._state == "committed":
                self._state = "confirmed"
            elif self._state == "reverted":
                self._reset()
                raise PermanentDeviceError(
                    self._name, "confirm came after the timeout; the previous config was restored"
                )
            elif self._state == "revert_failed":
                raise PermanentDeviceError(
                    self._name,
                    "confirm came after the timeout and restoring the previous config failed; "
                    "roll back",
                )

    def rollback(self) -> None:
        """Back to the configuration saved at stage, whatever happened since; idempotent."""
        with self._lock:
            self._cancel_timer()
            if self._state in _APPLIED and self._edits:
                assert self._saved is not None
                self._restore(self._saved)  # raises: state kept, so rollback can be retried
                log.info("gnmi.rollback.done", device=self._name)
            self._reset()

    def abandon(self) -> None:
        """The session ends: an unconfirmed change is reverted, as NETCONF does on close."""
        if self._state not in ("committing", "committed"):
            return
        try:
            self.rollback()
        except DeviceError as exc:
            log.error("gnmi.rollback.failed", device=self._name, error=exc.device_message)

    def _expire(self) -> None:
        with self._lock:
            if self._state != "committed" or self._timer is None:
                return
            self._timer = None
            try:
                assert self._saved is not None
                self._restore(self._saved)
            except DeviceError as exc:
                self._state = "revert_failed"
                log.error("gnmi.confirm.revert_failed", device=self._name, error=exc.device_message)
                return
            self._state = "reverted"
        log.warning("gnmi.confirm.expired", device=self._name)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _reset(self) -> None:
        self._state, self._saved, self._edits = "idle", None, ()
