"""Planned maintenance in the operator: drain before the window, expected alarms in it,
services back after it.

Maintenance objects are followed by a watch into `Runtime.maintenances`. Every assurance
pass calls `Draining.tick`: the links of every window that is draining or in progress go
to `Runtime.drained`, which route computation keeps off whenever another route exists
(`routing.route`), and every service whose working or standby path uses them -- and has a
way round -- is due for a re-path: make-before-break, through the same damper as any
re-path. Once a window with `returnAfter` has completed, the services it drained are due
once more, now free to take their best route again. `alarming.sync` marks the alarms a
window in progress explains as expected (`windows.mark_expected`).

Each window's status says its phase, the services it drained, and -- from before it opens
-- the services it will hit that cannot be moved, with the reason (the blast radius of the
target). It is written only when it changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import kopf
from pydantic import ValidationError

from intentloop_intents import windows
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.maintenance import MaintenanceSpec
from intentloop_operator import kube, logs, routing, whatif
from intentloop_operator.runtime import Runtime

log = logs.get("intentloop.maintenance")


@kopf.on.event(GROUP, VERSION, "maintenances", id="maintenance-windows")
async def maintenance_event(
    type: str, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> None:
    rt: Runtime = memo.runtime
    if type == "DELETED":
        rt.maintenances.pop(name, None)
    else:
        rt.maintenances[name] = {"spec": dict(body.spec), "status": dict(body.status)}
    rt.wake.set()


def windows_of(rt: Runtime) -> list[windows.Window]:
    """Every Maintenance with a valid spec (the schema admits only valid ones)."""
    found = []
    for name, obj in sorted(rt.maintenances.items()):
        try:
            found.append(windows.Window(name, MaintenanceSpec.model_validate(obj["spec"])))
        except ValidationError:
            log.warning("maintenance.spec.invalid", kind="Maintenance", name=name)
    return found


def _uses(obj: dict[str, Any]) -> set[str]:
    """The links a service's working and standby paths use."""
    status = obj.get("status", {})
    return set(status.get("pathLinks", [])) | set(status.get("backupPathLinks", []))


def _ref(owner: str) -> dict[str, str]:
    namespace, name = owner.split("/", 1)
    return {"kind": "NetworkService", "name": name, "namespace": namespace}


class Draining:
    """What the assurance loop remembers about maintenance windows (one instance)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.moved: dict[str, set[str]] = {}  # window -> services it drained
        self.returned: set[str] = set()  # windows whose services were sent back
        self.written: dict[str, dict[str, Any]] = {}  # window -> last status written

    def tick(self, due: dict[str, str], now: datetime) -> None:
        """Update the links to keep off; add the services to move (or move back) to `due`."""
        current = windows_of(self.rt)
        self.rt.drained = windows.drained(current, self.rt.topology, now)
        for window in current:
            remembered = self.rt.maintenances[window.name].get("status", {}).get("drained", [])
            moved = self.moved.setdefault(
                window.name, {f"{r['namespace']}/{r['name']}" for r in remembered}
            )
            phase = window.phase(now)
            if phase in windows.ACTIVE:
                self._drain(window, moved, due)
            elif (
                phase == "Completed"
                and window.spec.return_after
                and window.name not in self.returned
            ):
                self.returned.add(window.name)
                for owner in sorted(moved & set(self.rt.services)):
                    due.setdefault(owner, f"maintenance {window.name} is over: best route")
        for gone in set(self.moved) - {w.name for w in current}:
            del self.moved[gone]
            self.returned.discard(gone)
            self.written.pop(gone, None)

    def _drain(self, window: windows.Window, moved: set[str], due: dict[str, str]) -> None:
        links = frozenset(link for link, name in self.rt.drained.items() if name == window.name)
        for owner, obj in sorted(self.rt.services.items()):
            if not _uses(obj) & links or routing.blocked(self.rt, owner, obj, links):
                continue  # not on it, or no way round (listed in status as cannot move)
            moved.add(owner)
            target = window.spec.target
            why = f"maintenance {window.name} of {target.kind} {target.name} at {window.spec.start}"
            due.setdefault(owner, why)

    def _stuck(self, window: windows.Window) -> dict[str, str]:
        """Services on the target that will not be moved, and why: those the window would
        cut off or push over their SLA (its blast radius), and any other that has no route
        avoiding the target as it asks for it (e.g. a protected service whose standby
        cannot be disjoint without it)."""
        found = {
            f"{i.namespace}/{i.name}": f"{i.fate}: {i.detail}"
            for i in windows.cannot_move(window, self.rt.topology, whatif.uses(self.rt))
        }
        links = window.links(self.rt.topology)
        for owner, obj in sorted(self.rt.services.items()):
            if owner in found or not _uses(obj) & links:
                continue
            why = routing.blocked(self.rt, owner, obj, links)
            if why is not None:
                found[owner] = f"no route avoiding {window.spec.target.name}: {why}"
        return found

    async def write_status(self, now: datetime) -> None:
        for window in windows_of(self.rt):
            status = self._status(window, now)
            if self.written.get(window.name) == status:
                continue
            try:
                await kube.patch_object(
                    "maintenances", window.name, {"status": status}, status=True
                )
            except Exception as e:  # deleted meanwhile, or the API server is away: next pass
                log.warning("maintenance.status.write.failed", name=window.name, error=str(e)[:200])
                continue
            self.written[window.name] = status
            log.info("maintenance.status", name=window.name, phase=status["phase"])

    def _status(self, window: windows.Window, now: datetime) -> dict[str, Any]:
        phase = window.phase(now)
        stuck = {} if phase == "Completed" else self._stuck(window)
        links = window.links(self.rt.topology)
        moved = sorted(
            owner
            for owner in self.moved.get(window.name, set())
            if (obj := self.rt.services.get(owner)) is not None and not _uses(obj) & links
        )
        message = f"{len(moved)} service(s) drained, {len(stuck)} cannot move"
        return {
            "phase": phase,
            "drained": [_ref(owner) for owner in moved],
            "cannotMove": [
                {"service": _ref(owner), "reason": why[:1024]}
                for owner, why in sorted(stuck.items())
            ],
            "message": message,
        }
