"""The closed loop: telemetry → SLA evaluation → remediation (damped) → alarms.

One background task wakes on every topology change reported by telemetry (and once a
second regardless), evaluates every service's SLA on its current path, re-paths the
services whose path broke or whose SLA is violated — at most as often as the damper allows,
so a flapping link cannot cause a storm of transactions — and brings the Alarm objects in
line with what is wrong now.

Re-pathing is make-before-break in the transactional sense: the new path's configuration
and the old path's removal go out as one confirmed-commit transaction that is verified on
every device before it is confirmed; if anything fails, every device returns to the old
path. A protected service's backup is already reserved, so its new primary is usually the
old backup (the route search prefers reserved capacity it already holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from intentloop_intents import damping, sla
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import (
    alarming,
    draining,
    forecasting,
    kube,
    logs,
    metrics,
    outcomes,
    routing,
    services,
)
from intentloop_operator.batching import Batcher
from intentloop_operator.runtime import Runtime

TICK_S = 1.0
MAX_HISTORY = 10
STEER_S = 600.0  # how long a service moved ahead of a breach keeps off the links blamed

log = logs.get("intentloop.assurance")


class Assurance:
    def __init__(self, rt: Runtime, batcher: Batcher) -> None:
        self.rt, self.batcher = rt, batcher
        # At most 6 re-paths of one service a minute, none within 1 s of the last: a link that
        # flaps cannot drive a storm of transactions, while distinct failures still get fixed.
        self.damper = damping.Damper(hold_down_s=1.0, max_per_window=6, window_s=60.0)
        # what the network looked like at the last failed attempt: retry only when it changed
        # in a way that could help (no oscillation while nothing changes)
        self.tried_at: dict[str, tuple[Any, ...]] = {}
        self.tried_reason: dict[str, str] = {}
        self.uids: dict[str, str | None] = {}  # the service object the memory above is about
        self.forecasting = forecasting.Forecasting.from_environment()
        self.steered_until: dict[str, float] = {}
        self.draining = draining.Draining(rt)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.rt.wake.wait(), TICK_S)
            self.rt.wake.clear()
            try:
                await self.pass_once()
            except Exception:
                log.exception("assurance.pass.failed")

    async def pass_once(self) -> None:
        self._forget_gone()
        due = self._evaluate()
        self.draining.tick(due, datetime.now(UTC))
        try:
            self._foresee(due, time.monotonic())
        except Exception:  # a forecast must never keep the alarms or re-paths from running
            log.exception("assurance.forecast.failed")
        # Alarms first: they describe the network as it is now (a service hit by a fault
        # is raised before it is re-pathed, and cleared by the next pass once restored).
        predicted = self.forecasting.alarms(
            datetime.now(UTC), infra_namespace=alarming.INFRA_NAMESPACE
        )
        await alarming.sync(self.rt, extra=predicted)
        await self.draining.write_status(datetime.now(UTC))
        await asyncio.gather(*(self.remediate(owner, why) for owner, why in sorted(due.items())))

    def _evaluate(self) -> dict[str, str]:
        """Which services need a new path now, and why (also refreshes SLA status)."""
        due: dict[str, str] = {o: "a link on its path changed state" for o in self.rt.repath}
        metrics.DEVICES_REACHABLE.set(sum(1 for d in self.rt.topology.devices() if d.reachable))
        for owner, obj in list(self.rt.services.items()):
            status = obj.get("status", {})
            links = status.get("pathLinks", [])
            if not links:
                continue
            bound = (obj["spec"].get("sla") or {}).get("maxLatencyMs")
            up = all((st := self.rt.topology.link(n)) is not None and st.oper_up for n in links)
            verdict = sla.evaluate(self.rt.topology, links, bound, path_up=up)
            previous = self.rt.sla.get(owner)
            if not verdict.met and (previous is None or previous.met):
                metrics.SLA_VIOLATIONS.inc()
            self.rt.sla[owner] = verdict
            if not verdict.met:
                due.setdefault(owner, verdict.reason)
        return due

    def _foresee(self, due: dict[str, str], now: float) -> None:
        """Services forecast to breach within the horizon are due too, if a way round the
        links to blame exists (else the warning alarm says why they stay)."""
        self.forecasting.sample(self.rt, now)
        for owner, until in list(self.steered_until.items()):
            if until <= now:
                del self.steered_until[owner]
                self.rt.steer.pop(owner, None)
        for risk in self.forecasting.assess(self.rt, now):
            owner = f"{risk.service.namespace}/{risk.service.name}"
            if owner in due:
                continue
            blocked = self._no_way_round(owner, frozenset(risk.links))
            if blocked is not None:
                self.forecasting.unmovable[owner] = blocked
                continue
            self.rt.steer[owner] = frozenset(risk.links)
            self.steered_until[owner] = now + STEER_S
            due[owner] = f"forecast: {risk.reason}"

    def _no_way_round(self, owner: str, links: frozenset[str]) -> str | None:
        """Why the service has no route avoiding `links` (None: it has one)."""
        obj = self.rt.services.get(owner)
        return "service gone" if obj is None else routing.blocked(self.rt, owner, obj, links)

    def _forget_gone(self) -> None:
        """Damping and retry memory belong to one service object: a deleted service, or a new
        one under the same name, starts afresh (its budget is not its predecessor's)."""
        current = {o: obj["metadata"].get("uid") for o, obj in self.rt.services.items()}
        for owner in list(self.uids):
            if current.get(owner) != self.uids[owner]:
                del self.uids[owner]
                self.damper.forget(owner)
                self.tried_at.pop(owner, None)
                self.tried_reason.pop(owner, None)
                self.steered_until.pop(owner, None)
                self.rt.steer.pop(owner, None)
        for owner, uid in current.items():
            self.uids.setdefault(owner, uid)

    async def remediate(self, owner: str, why: str) -> None:
        now = time.monotonic()
        obj = self.rt.services.get(owner)
        if obj is None:
            self.rt.repath.discard(owner)
            return
        signature = self._signature(self.tried_reason.get(owner, ""))
        down = not self._path_up(obj)
        if self.tried_at.get(owner) == signature or not self.damper.allow(
            owner, now, out_of_service=down
        ):
            return  # nothing changed since the last attempt, or damped: wait
        namespace, name = owner.split("/", 1)
        async with self.rt.service_lock(owner):
            if self.rt.services.get(owner) is not obj:
                return  # deleted (or replaced) while this re-path waited for the lock
            self.damper.record(owner, now)
            self.rt.repath.discard(owner)
            await self._repath(obj, namespace, name, why)

    def _optional(self, owner: str, obj: dict[str, Any]) -> bool:
        """Whether a move was optional: the service's path is up and meets its SLA (a move
        ahead of a forecast breach or of a maintenance window); failing it degrades nothing."""
        verdict = self.rt.sla.get(owner)
        return verdict is not None and verdict.met and self._path_up(obj)

    def _path_up(self, obj: dict[str, Any]) -> bool:
        """Whether every link and device of the service's path is up."""
        status = obj.get("status", {})
        topo = self.rt.topology
        links_up = all(
            (st := topo.link(n)) is not None and st.oper_up for n in status.get("pathLinks", [])
        )
        return links_up and all(
            (d := topo.device(n)) is not None and d.reachable for n in status.get("path", [])
        )

    def _signature(self, reason: str) -> tuple[Any, ...]:
        """The parts of the network a failed re-path depended on. A latency bound depends on
        link states and latencies (0.5 ms steps); anything else also on free capacity."""
        topo = self.rt.topology
        links = tuple(
            (
                link.name,
                link.oper_up,
                round(link.latency_ms * 2) / 2,
                None if reason == "LatencyBoundExceeded" else round(link.free_mbps),
            )
            for link in sorted(topo.links(), key=lambda link: link.name)
        )
        devices = tuple(sorted((d.name, d.reachable) for d in topo.devices()))
        return links + devices

    async def _repath(self, obj: dict[str, Any], namespace: str, name: str, why: str) -> None:
        owner = f"{namespace}/{name}"
        old_path = list(obj.get("status", {}).get("path", []))
        spec = NetworkServiceSpec.model_validate(obj["spec"])
        uid = obj["metadata"].get("uid") or ""
        entry = {"time": datetime.now(UTC).isoformat(), "reason": why[:1024], "fromPath": old_path}
        try:
            r, ids, applied = await services.realise(
                self.rt, self.batcher, namespace, name, uid, spec
            )
        except outcomes.Outcome as e:
            self.tried_reason[owner] = e.reason
            self.tried_at[owner] = self._signature(e.reason)
            metrics.REMEDIATIONS.labels("failed").inc()
            entry.update(toPath=old_path, outcome=f"failed: {e.reason}")
            if self._optional(owner, obj):  # ahead of a breach or a window: still carries
                await self._write(obj, {}, entry, "MoveFailed", f"{why}; {e}")
                return
            status = _degraded(obj, e.reason, f"{why}; no better path: {e}")
            await self._write(obj, status, entry, "RepathFailed", f"{why}; {e}")
            return
        self.tried_at.pop(owner, None)
        self.tried_reason.pop(owner, None)
        metrics.REMEDIATIONS.labels("repathed").inc()
        status = services.ready_status(obj, r, ids, applied, namespace)
        services.keep_port_warning(self.rt, namespace, name, spec, status)
        entry.update(toPath=list(r.primary.devices), outcome="repathed")
        services.remember(self.rt, namespace, name, obj, status, r)
        message = f"{why}: {'-'.join(old_path)} -> {'-'.join(r.primary.devices)}"
        await self._write(obj, status, entry, "Repathed", message)

    async def _write(
        self,
        obj: dict[str, Any],
        status: dict[str, Any],
        entry: dict[str, Any],
        reason: str,
        message: str,
    ) -> None:
        meta = obj["metadata"]
        history = [*obj.get("status", {}).get("remediations", []), entry][-MAX_HISTORY:]
        status = {**status, "remediations": history}
        obj["status"] = {**obj.get("status", {}), **status}
        try:
            await kube.patch_object(
                "networkservices", meta["name"], {"status": status}, meta["namespace"], status=True
            )
            kind = "Normal" if reason == "Repathed" else "Warning"
            await kube.post_event(obj, type=kind, reason=reason, message=message)
        except Exception as e:  # the service may have been deleted meanwhile
            log.warning(
                "service.status.write.failed",
                namespace=meta["namespace"],
                name=meta["name"],
                error=f"{type(e).__name__}: {str(e)[:200]}",
            )
        log.info(
            "service.remediated",
            namespace=meta["namespace"],
            name=meta["name"],
            reason=reason,
            message=message[:300],
        )


def _degraded(obj: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
    return {
        "phase": "Degraded",
        "slaMet": False,
        "conditions": services.conditions_for(obj, False, reason, message, False),
    }
