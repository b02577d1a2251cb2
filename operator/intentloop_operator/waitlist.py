"""Services waiting on the world, and the nudge that says the world changed.

A service whose last pass failed for a reason outside its own spec (no pool, no route, a
port conflict with a Link, ...) is put here; inventory changes (ResourcePools, Links,
Devices, slices, deleted services) `nudge`, and `healing` looks at every waiting service
again at once instead of at its next periodic retry.
"""

from __future__ import annotations

import asyncio


class WaitList:
    def __init__(self) -> None:
        self.services: dict[str, str] = {}  # owner "namespace/name" -> uid
        # owner -> (uid, generation) made Ready by `healing`: the pending periodic retry of
        # that same generation has nothing left to do.
        self.healed: dict[str, tuple[str, int | None]] = {}
        self.changed = asyncio.Event()

    def wait(self, owner: str, uid: str) -> None:
        self.services[owner] = uid
        self.healed.pop(owner, None)

    def done(self, owner: str) -> None:
        self.services.pop(owner, None)

    def forget(self, owner: str) -> None:
        self.services.pop(owner, None)
        self.healed.pop(owner, None)

    def nudge(self) -> None:
        """Something a waiting service may depend on changed (cheap when none waits)."""
        if self.services:
            self.changed.set()
