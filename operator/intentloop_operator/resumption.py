"""Resuming after a restart: touch no device, raise nothing, and take new work at once.

At start-up the runtime is rebuilt from the objects (`Runtime.load`): services' paths and
reservations from their status, the composed device configs from the DeviceConfigs. A
service that was Ready at its current generation and whose config the stored device
configs still carry, on exactly the devices of its stored path, is *adopted* as it is: no
route search, no allocation, no transaction, no status write. Recomputing it would at best
find the same answer at the cost of a batch (2,000 services were 10 batches that new work
queued behind) and at worst a different one from a half-observed world (a path around a
device that merely looked slow under the start-up load) — a restart must change nothing
on the network. Assurance looks at adopted services like any other: a path that broke
while the operator was away is re-pathed by the loop, within its damping budget.

Readiness (`/readyz`) means "handling changes": the runtime is loaded and every service
listed at start has had its resume pass (or `GRACE_S` has passed, so one stuck object
cannot keep a replica out of service for ever).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from intentloop_intents.device import DeviceConfigTree
from intentloop_operator import logs

GRACE_S = float(os.environ.get("INTENTLOOP_RESUME_GRACE", "120"))


class Resumption:
    """Which services still await their resume pass, and where their config was at start."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.configured: dict[str, frozenset[str]] = {}  # owner -> devices carrying its items
        self.started = time.monotonic()
        self.adopted = 0
        self.recomputed = 0

    def load(self, owners: Iterable[str], desired: Mapping[str, DeviceConfigTree]) -> None:
        self.pending.update(owners)
        found: dict[str, set[str]] = {}
        for device, tree in desired.items():
            for sub in tree.subinterfaces:  # every service has one on each device it uses
                for owner in sub.owners:
                    found.setdefault(owner, set()).add(device)
        self.configured = {o: frozenset(d) for o, d in found.items() if o in self.pending}

    def done(self, owner: str) -> None:
        self.pending.discard(owner)
        self.configured.pop(owner, None)

    def ready(self) -> bool:
        return not self.pending or time.monotonic() - self.started > GRACE_S

    def adoptable(
        self,
        owner: str,
        body: Mapping[str, Any],
        link_ends: Mapping[str, tuple[str, str]],
    ) -> bool:
        """Whether the service as stored is what the devices are configured with."""
        status = body.get("status") or {}
        generation = body["metadata"].get("generation")
        if status.get("phase") != "Ready" or status.get("observedGeneration") != generation:
            return False
        expected = {e["device"] for e in body["spec"].get("endpoints", [])}
        for link in status.get("pathLinks", []):
            if link not in link_ends:
                return False  # a Link of its path is gone: recompute
            expected.update(link_ends[link])
        return bool(expected) and self.configured.get(owner) == frozenset(expected)


async def announce_ready(resumption: Resumption, mark: Any, stop: asyncio.Event) -> None:
    """Call `mark(True)` once the resume passes are done (see the module's docstring)."""
    while not stop.is_set() and not resumption.ready():
        await asyncio.sleep(0.2)
    mark(True)
    logs.get("intentloop.resumption").info(
        "operator.ready",
        adopted=resumption.adopted,
        recomputed=resumption.recomputed,
        still_pending=len(resumption.pending),
        seconds=round(time.monotonic() - resumption.started, 2),
    )
