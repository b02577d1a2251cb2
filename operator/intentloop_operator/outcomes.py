"""Why a service's pass ended without Ready, decided in one place.

Only a fault in the service's own spec is final. Everything else depends on the world —
the topology, the Links and Devices, the ResourcePools, other intents — and the world
changes: such a failure *waits* (the service is Degraded, not Progressing) and is looked
at again every `services.WAIT_DELAY_S` and as soon as the inventory changes (`healing`).
Messages are sentences a person can act on, never a library's raw error dump.
"""

from __future__ import annotations

from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import composition
from intentloop_operator import allocations, routing


class Outcome(Exception):
    """A pass that ends without Ready: phase, condition reason, message, retry or not.

    `waiting` outcomes are not being worked on (the service is Degraded, not Progressing)
    but depend on the network, which changes: they are retried now and then, and whenever
    the inventory changes.
    """

    def __init__(
        self, phase: str, reason: str, message: str, *, retry: bool, waiting: bool = False
    ) -> None:
        super().__init__(message)
        self.phase, self.reason, self.retry, self.waiting = phase, reason, retry, waiting


class CompilationError(ValueError):
    """The compiler refused the route and identifiers (the message says why, in words)."""


def sentence(e: ValidationError) -> str:
    """A pydantic error as text for a person: `field: what is wrong`, without the dump
    (input values, error types, links to pydantic's documentation)."""
    parts = []
    for err in e.errors(include_url=False, include_input=False):
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)[:1000]


def _waiting(reason: str, message: str) -> Outcome:
    return Outcome("Failed", reason, message[:1000], retry=True, waiting=True)


def classify(e: Exception) -> Outcome:
    """The outcome for an error of a pass; raises `e` again if it is not a known one."""
    if isinstance(e, ValidationError):  # the service's own spec: final until it is edited
        return Outcome("Failed", "InvalidSpec", f"the spec is invalid: {sentence(e)}", retry=False)
    if isinstance(e, routing.NotRoutable):  # a device back, a link up, capacity released
        return _waiting(e.reason, str(e))
    if isinstance(e, alloc.PoolExhausted):  # lost races or a full pool: keep trying soon
        return Outcome("Pending", "AllocationFailed", str(e), retry=True)
    if isinstance(e, alloc.AllocationError | allocations.NoPool):  # pools are inventory
        return _waiting("AllocationFailed", str(e))
    if isinstance(e, CompilationError):  # depends on the route, i.e. on the topology
        return _waiting("CompilationFailed", str(e))
    if isinstance(e, composition.ConfigConflict):  # another intent may change or go
        return _waiting("ConfigConflict", str(e))
    raise e
