"""All-or-nothing configuration changes across many devices.

Phases, run on all devices in parallel (bounded by `parallelism`), with a barrier where
one device must wait for all others:

1. stage   — lock and edit the candidate (NETCONF) / save a rollback copy (gNMI);
             devices whose diff is empty are left alone from here on;      — barrier —
2. commit  — `commit confirmed`: running changes, but reverts by itself unless confirmed;
3. verify  — read running back and compare with the desired tree (canonical form);
             (each device verifies right after its own commit)            — barrier —
4. confirm — make it permanent.

A failure on any device in any phase rolls back every device that was touched: staged
candidates are discarded, pending confirmed commits cancelled. The hard case is a confirm
that fails on device k after others already confirmed: there is no two-phase commit across
independent devices, so the confirmed ones are compensated — `rollback()` re-applies the
configuration saved at stage time (best effort; if that fails too the outcome is `Failed`
and each device's result says where it stands). Until then the unconfirmed devices are
still protected by their own confirm timeout.

The wall time of a transaction is that of its slowest device in each phase (plus the
bookkeeping measured in `benchmarks/device_latency.py`), not the sum over devices.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from pydantic import BaseModel, ConfigDict, Field

from intentloop_adapters.errors import DeviceError, TransientDeviceError
from intentloop_adapters.protocol import DeviceAdapter, held_by
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device import diff as device_diff

log = structlog.get_logger("intentloop.adapters.transactions")


class Outcome(StrEnum):
    COMMITTED = "Committed"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    DRY_RUN = "DryRun"
    NO_CHANGE = "NoChange"


class Phase(StrEnum):
    DIFF = "diff"
    STAGE = "stage"
    COMMIT = "commit"
    VERIFY = "verify"
    CONFIRM = "confirm"
    ROLLBACK = "rollback"


class DeviceFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    phase: Phase
    message: str = Field(description="The device's own words (rpc-error message, gRPC status)")
    transient: bool = Field(description="Worth retrying as is (timeout, lock held)")


class DeviceResult(BaseModel):
    device: str
    changed: bool = False
    phase_reached: Phase | None = Field(
        default=None, description="The last phase this device completed"
    )
    native_diff: str = ""
    error: DeviceFailure | None = None
    rolled_back: bool = False
    rollback_error: DeviceFailure | None = None
    timings_ms: dict[Phase, float] = Field(default_factory=dict)


class TransactionResult(BaseModel):
    transaction_id: str
    outcome: Outcome
    devices: dict[str, DeviceResult]
    failure: DeviceFailure | None = Field(
        default=None, description="The first failure: which device, in which phase, and why"
    )
    duration_ms: float = 0.0

    @property
    def message(self) -> str:
        """One line for a status condition."""
        if self.failure is None:
            changed = sum(1 for d in self.devices.values() if d.changed)
            return f"{self.outcome}: {changed} of {len(self.devices)} devices changed"
        f = self.failure
        return f"{self.outcome}: {f.device} failed to {f.phase}: {f.message}"


@dataclass
class _Run:
    adapter: DeviceAdapter
    desired: DeviceConfigTree
    result: DeviceResult
    touched: bool = False
    errors: list[DeviceFailure] = field(default_factory=list)


async def apply_transaction(
    plan: Mapping[str, tuple[DeviceAdapter, DeviceConfigTree]],
    *,
    transaction_id: str,
    confirm_timeout_s: int = 60,
    parallelism: int = 16,
    dry_run: bool = False,
) -> TransactionResult:
    """Apply `plan` (device name → adapter and desired tree) everywhere, or nowhere."""
    started = time.perf_counter()
    runs = {
        name: _Run(adapter, desired, DeviceResult(device=name))
        for name, (adapter, desired) in plan.items()
    }
    gate = asyncio.Semaphore(max(1, parallelism))
    with structlog.contextvars.bound_contextvars(transaction=transaction_id):
        log.info("transaction.started", devices=len(runs), dry_run=dry_run)
        try:
            if dry_run:
                outcome = await _dry_run(runs, gate)
            else:
                outcome = await _apply(runs, gate, confirm_timeout_s)
        except asyncio.CancelledError:
            log.warning("transaction.cancelled")
            await asyncio.shield(_rollback(runs, gate))
            raise
        failure = _first_failure(runs.values())
        result = TransactionResult(
            transaction_id=transaction_id,
            outcome=outcome,
            devices={name: run.result for name, run in runs.items()},
            failure=failure,
            duration_ms=_ms_since(started),
        )
        event = "transaction.done" if failure is None else "transaction.failed"
        log.info(event, outcome=str(outcome), duration_ms=round(result.duration_ms, 1))
        return result


async def _dry_run(runs: dict[str, _Run], gate: asyncio.Semaphore) -> Outcome:
    async def diff(run: _Run) -> None:
        run.result.native_diff = await run.adapter.native_diff(run.desired)
        run.result.changed = bool(run.result.native_diff)

    if not await _phase(runs.values(), [(Phase.DIFF, diff)], gate):
        return Outcome.FAILED
    return Outcome.DRY_RUN if any(r.result.changed for r in runs.values()) else Outcome.NO_CHANGE


async def _apply(runs: dict[str, _Run], gate: asyncio.Semaphore, confirm_timeout_s: int) -> Outcome:
    async def stage(run: _Run) -> None:
        run.touched = True
        run.result.native_diff = await run.adapter.stage(run.desired)
        run.result.changed = bool(run.result.native_diff)
        run.touched = run.result.changed  # an empty diff leaves the device alone

    async def commit(run: _Run) -> None:
        await run.adapter.commit(confirm_timeout_s)

    async def verify(run: _Run) -> None:
        running = await run.adapter.get_config()
        expected = held_by(run.adapter, run.desired)
        if running != expected:
            changes = device_diff.diff_trees(running, expected)
            shown = device_diff.render_changes(changes[:5])
            raise DeviceError(run.result.device, f"running differs after commit:\n{shown}")

    async def confirm(run: _Run) -> None:
        await run.adapter.confirm()

    if not await _phase(runs.values(), [(Phase.STAGE, stage)], gate):
        return await _rollback(runs, gate)
    changed = [run for run in runs.values() if run.result.changed]
    if not changed:
        return Outcome.NO_CHANGE
    # A device's read-back does not wait for the others' commits: one barrier fewer, and
    # nothing is confirmed anywhere until every device has committed and verified.
    if not await _phase(changed, [(Phase.COMMIT, commit), (Phase.VERIFY, verify)], gate):
        return await _rollback(runs, gate)
    if not await _phase(changed, [(Phase.CONFIRM, confirm)], gate):
        return await _rollback(runs, gate)
    return Outcome.COMMITTED


async def _rollback(runs: dict[str, _Run], gate: asyncio.Semaphore) -> Outcome:
    touched = [run for run in runs.values() if run.touched]

    async def undo(run: _Run) -> None:
        await run.adapter.rollback()
        run.result.rolled_back = True

    ok = await _phase(touched, [(Phase.ROLLBACK, undo)], gate, advance=False)
    for run in touched:
        failed = [e for e in run.errors if e.phase is Phase.ROLLBACK]
        run.result.rollback_error = failed[0] if failed else None
    return Outcome.ROLLED_BACK if ok else Outcome.FAILED


Step = Callable[[_Run], Awaitable[None]]


async def _phase(
    runs: Iterable[_Run],
    steps: list[tuple[Phase, Step]],
    gate: asyncio.Semaphore,
    *,
    advance: bool = True,
) -> bool:
    """Run the steps, in order, on every device (bounded); time and record each; True if ok."""

    async def one(run: _Run) -> bool:
        async with gate:
            for phase, step in steps:
                started = time.perf_counter()
                try:
                    await step(run)
                except Exception as exc:
                    _record_failure(run, phase, exc)
                    return False
                finally:
                    run.result.timings_ms[phase] = _ms_since(started)
                if advance:
                    run.result.phase_reached = phase
            return True

    outcomes = await asyncio.gather(*(one(run) for run in runs))
    return all(outcomes)


def _record_failure(run: _Run, phase: Phase, exc: Exception) -> None:
    failure = _failure(run.result.device, phase, exc)
    run.errors.append(failure)
    if phase is not Phase.ROLLBACK:
        run.result.error = run.result.error or failure
    log.warning(f"transaction.{phase}.failed", device=run.result.device, error=failure.message)


def _first_failure(runs: Iterable[_Run]) -> DeviceFailure | None:
    """The failure that decided the outcome: earliest phase first, rollback failures last."""
    order = list(Phase)
    failures = sorted((e for run in runs for e in run.errors), key=lambda e: order.index(e.phase))
    return failures[0] if failures else None


def _failure(device: str, phase: Phase, exc: Exception) -> DeviceFailure:
    if isinstance(exc, DeviceError):
        return DeviceFailure(
            device=device,
            phase=phase,
            message=exc.device_message,
            transient=isinstance(exc, TransientDeviceError),
        )
    return DeviceFailure(
        device=device, phase=phase, message=f"{type(exc).__name__}: {exc}", transient=False
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
