"""Alarm objects kept in line with what is wrong now (level-triggered).

Every assurance pass computes the full set of alarms that should be active — from links
down, devices unreachable, drift, failed transactions and SLA violations, correlated on the
topology (`intentloop_intents.alarms`) — and writes only the differences: new alarms are
raised, changed ones updated, vanished ones cleared (and removed after `KEEP_CLEARED`).
Infrastructure alarms live in the operator's namespace; a tenant's service alarms in the
tenant's namespace, so each tenant sees only its own.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from intentloop_intents import alarms, alarmstatus, windows
from intentloop_intents.resources import API_VERSION, GROUP, VERSION
from intentloop_operator import draining, kube, logs, metrics
from intentloop_operator.runtime import Runtime

INFRA_NAMESPACE = "intentloop-system"
KEEP_CLEARED = timedelta(minutes=30)
SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")

log = logs.get("intentloop.alarms")


def faults(rt: Runtime) -> list[alarms.Fault]:
    found: list[alarms.Fault] = []
    for link in rt.topology.links():
        if not link.oper_up and rt.link_ends.get(link.name):
            down = sorted(d for d, up in rt.link_ends[link.name].items() if not up)
            found.append(
                alarms.Fault(
                    "linkDown", "Link", link.name, None, f"reported down by {', '.join(down)}"
                )
            )
    for device in rt.topology.devices():
        if device.declared and not device.reachable:
            found.append(
                alarms.Fault(
                    "deviceUnreachable", "Device", device.name, None, "device does not answer"
                )
            )
    for drifted, detail in sorted(rt.drift.items()):
        found.append(alarms.Fault("drift", "Device", drifted, None, detail))
    for owner, detail in sorted(rt.failed_transactions.items()):
        namespace, name = owner.split("/", 1)
        found.append(alarms.Fault("transactionFailed", "NetworkService", name, namespace, detail))
    return found


def service_views(rt: Runtime) -> list[alarms.ServiceView]:
    views = []
    for owner, obj in sorted(rt.services.items()):
        namespace, name = owner.split("/", 1)
        status = obj.get("status", {})
        verdict = rt.sla.get(owner)
        views.append(
            alarms.ServiceView(
                namespace=namespace,
                name=name,
                path_links=tuple(status.get("pathLinks", [])),
                path_devices=tuple(status.get("path", [])),
                backup_links=tuple(status.get("backupPathLinks", [])),
                # A broken path is `serviceImpacted`, correlated to its cause; an SLA alarm
                # is for a path that works but is too slow.
                sla_violated=_too_slow(verdict),
                sla_detail=_sla_text(verdict),
            )
        )
    return views


def _too_slow(verdict: Any) -> bool:
    if verdict is None or verdict.met or verdict.bound_ms is None:
        return False
    return verdict.measured_ms is not None and verdict.measured_ms > verdict.bound_ms


def _sla_text(verdict: Any) -> str:
    """Whole milliseconds only: a jittery measurement must not rewrite the alarm each pass."""
    if not _too_slow(verdict):
        return ""
    measured, bound = round(verdict.measured_ms), verdict.bound_ms
    return f"path latency about {measured} ms exceeds the bound {bound:g} ms"


async def sync(rt: Runtime, extra: Sequence[alarms.DesiredAlarm] = ()) -> None:
    """Bring the Alarm objects in line with the faults now, plus `extra` (e.g. forecast)."""
    now = datetime.now(UTC)
    wanted = alarms.desired_alarms(
        faults(rt), service_views(rt), rt.topology, infra_namespace=INFRA_NAMESPACE
    )
    wanted.extend(extra)
    wanted = windows.mark_expected(wanted, draining.windows_of(rt), rt.topology, now)
    desired = {(a.namespace, a.key): a for a in wanted}
    for key in sorted(set(desired) | set(rt.alarms)):
        existing = rt.alarms.get(key)
        status = alarms.merge_state(existing, desired.get(key), now)
        if status is not None:
            await _write(rt, key, existing, status)
    for key, status in list(rt.alarms.items()):
        if status.get("state") == "cleared" and alarms.expired(status, now, KEEP_CLEARED):
            await kube.delete_object("alarms", key[1], key[0])
            del rt.alarms[key]
    counts = Counter(
        s.get("perceivedSeverity") for s in rt.alarms.values() if s.get("state") == "active"
    )
    for severity in SEVERITIES:
        metrics.ALARMS_ACTIVE.labels(severity).set(counts.get(severity, 0))


async def _write(
    rt: Runtime, key: tuple[str, str], existing: dict[str, Any] | None, status: dict[str, Any]
) -> None:
    namespace, name = key
    try:
        if existing is None:
            body = {
                "apiVersion": API_VERSION,
                "kind": "Alarm",
                "metadata": {
                    "name": name,
                    "labels": {"intentloop.io/cause": status.get("probableCause", "")},
                },
                "spec": {"acknowledged": False},
            }
            with contextlib.suppress(kube.AlreadyExists):
                await kube.create_object("alarms", body, namespace)
        await kube.patch_object("alarms", name, {"status": status}, namespace, status=True)
    except Exception:
        log.warning("alarm.write.failed", namespace=namespace, name=name)
        return
    if alarmstatus.opens_ticket(existing, status, datetime.now(UTC)):
        metrics.ALARM_TICKETS.inc()
    rt.alarms[key] = status
    event = "alarm.cleared" if status.get("state") == "cleared" else "alarm.raised"
    log.info(
        event,
        namespace=namespace,
        name=name,
        cause=status.get("probableCause"),
        severity=status.get("perceivedSeverity"),
        root=status.get("isRootCause"),
    )


async def load(rt: Runtime) -> None:
    for obj in await kube.list_objects("alarms"):
        meta = obj["metadata"]
        rt.alarms[(meta["namespace"], meta["name"])] = dict(obj.get("status") or {})


@kopf.on.update(GROUP, VERSION, "alarms", id="alarm-ack", field="spec")
async def acknowledged(spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    """People acknowledge through the spec; the status carries TMF642's ackState."""
    patch.status["ackState"] = "acknowledged" if spec.get("acknowledged") else "unacknowledged"
