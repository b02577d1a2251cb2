"""Device controller: connect through the device's adapter and report what we find.

Level-triggered: on create, update, resume and on a timer the same `reconcile` runs; it
reads credentials from the referenced Secrets by name, asks the device for its
capabilities, and writes one status patch — only when something a person would notice
changed (reachability, version, capabilities, conditions). A device that cannot be
reached never blocks the others (each object has its own handler task) and is retried by
the timer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from intentloop_adapters import factory
from intentloop_adapters.errors import DeviceError, PermanentDeviceError
from intentloop_intents import conditions as cond
from intentloop_intents.resources import GROUP, VERSION
from intentloop_intents.resources.inventory import DeviceSpec
from intentloop_intents.resources.meta import ConditionType
from intentloop_operator import kube, logs, metrics

# How often reachability is re-checked (also the retry interval for unreachable devices).
PROBE_INTERVAL_S = float(os.environ.get("INTENTLOOP_DEVICE_PROBE_INTERVAL", "20"))
# A reachable device is declared unreachable only after probes failed for a transient
# reason for this long without a good one between (and at least twice): a timeout on a
# device busy with a large commit, or two probes landing together while the operator
# starts under load, is not an outage. Misses are counted in time, not in number. A broken
# telemetry stream still marks it unreachable at once (see `telemetry`).
UNREACHABLE_AFTER_S = float(os.environ.get("INTENTLOOP_DEVICE_UNREACHABLE_AFTER", PROBE_INTERVAL_S))
MISSES_BEFORE_UNREACHABLE = 2
_misses: dict[str, tuple[int, float]] = {}  # device -> (failed probes in a row, first at)
clock = time.monotonic
MAX_CAPABILITIES = 64

log = logs.get("intentloop.devices")


async def credentials(spec: DeviceSpec) -> factory.Credentials:
    creds = factory.Credentials()
    if spec.netconf is not None:
        ref = spec.netconf.credentials_secret_ref
        data = await kube.read_secret(ref.name, ref.namespace)
        creds.netconf_username = data.get("username", "")
        creds.netconf_private_key = data.get("ssh-privatekey", "")
    if spec.gnmi is not None:
        if spec.gnmi.credentials_secret_ref is not None:
            ref = spec.gnmi.credentials_secret_ref
            data = await kube.read_secret(ref.name, ref.namespace)
            creds.gnmi_username = data.get("username")
            creds.gnmi_password = data.get("password")
        if spec.gnmi.tls is not None:
            ref = spec.gnmi.tls.ca_secret_ref
            creds.gnmi_ca_pem = (await kube.read_secret(ref.name, ref.namespace)).get("ca.crt")
    return creds


async def observe(name: str, spec: DeviceSpec) -> dict[str, Any]:
    """What the device says about itself, as status fields (never raises DeviceError)."""
    creds = await credentials(spec)
    adapter = factory.config_adapter(name, spec, creds)
    started = time.perf_counter()
    try:
        await adapter.connect()
        caps = await adapter.capabilities()
    finally:
        await adapter.close()
    metrics.DEVICE_RPC_SECONDS.labels(factory.kind_of(spec), "capabilities", "ok").observe(
        time.perf_counter() - started
    )
    return {
        "reachable": True,
        "softwareVersion": caps.software_version[:64],
        "capabilities": list(caps.raw[:MAX_CAPABILITIES]),
        "lastSeen": datetime.now(UTC).isoformat(),
    }


def _status(
    body: kopf.Body, fields: dict[str, Any], ready: bool, reason: str, message: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    generation = body.metadata.get("generation")
    conds: list[dict[str, Any]] = list(body.status.get("conditions", []))
    conds = cond.set_condition(
        conds,
        type=ConditionType.READY,
        status=ready,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
    conds = cond.set_condition(
        conds,
        type=ConditionType.DEGRADED,
        status=not ready,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
    conds = cond.set_condition(
        conds,
        type=ConditionType.PROGRESSING,
        status=False,
        reason=reason,
        message="",
        generation=generation,
        now=now,
    )
    return {
        **fields,
        "phase": "Ready" if ready else "Unreachable",
        "observedGeneration": generation,
        "conditions": conds,
    }


async def reconcile(name: str, body: kopf.Body, patch: kopf.Patch) -> None:
    bound = log.bind(kind="Device", name=name, generation=body.metadata.get("generation"))
    started = time.perf_counter()
    metrics.FRESHNESS.known("probe", name, PROBE_INTERVAL_S)
    outcome = "ok"
    try:
        spec = DeviceSpec.model_validate(dict(body.spec))
    except ValidationError as e:
        patch.status.update(_status(body, {}, False, cond.REASON_INVALID_SPEC, str(e)[:1000]))
        return
    try:
        fields = await observe(name, spec)
        status = _status(body, fields, True, cond.REASON_RECONCILED, "device reachable")
    except ValueError as e:  # the adapter refused a value the schema could not check
        outcome = "invalid"
        status = _status(body, {"reachable": False}, False, cond.REASON_INVALID_SPEC, str(e))
    except kube.SecretUnavailable as e:
        outcome = "credentials"
        status = _status(body, {"reachable": False}, False, cond.REASON_CREDENTIALS, str(e))
    except PermanentDeviceError as e:
        outcome = "refused"
        reason = cond.REASON_HOST_KEY if "host key" in str(e).lower() else cond.REASON_UNREACHABLE
        status = _status(body, {"reachable": False}, False, reason, str(e)[:1000])
    except DeviceError as e:
        outcome = "unreachable"
        misses, since = _misses.get(name, (0, clock()))
        _misses[name] = (misses := misses + 1, since)
        if body.status.get("reachable") and not _outage(misses, since):
            bound.info("device.probe.missed", misses=misses, error=str(e)[:200])
            metrics.RECONCILE_SECONDS.labels("Device", "missed").observe(
                time.perf_counter() - started
            )
            return  # keep what the last good probe said; the next one decides
        status = _status(body, {"reachable": False}, False, cond.REASON_UNREACHABLE, str(e)[:1000])
    else:
        _misses.pop(name, None)
        metrics.FRESHNESS.seen("probe", name, PROBE_INTERVAL_S)
    previous = body.status.get("reachable")
    if previous != status.get("reachable"):
        bound.info("device.reachability.changed", reachable=status.get("reachable"))
    if noticeable(body.status, status):
        patch.status.update(status)
    metrics.RECONCILE_SECONDS.labels("Device", outcome).observe(time.perf_counter() - started)


def _outage(misses: int, since: float) -> bool:
    """Whether failed probes in a row add up to an outage: enough of them, over long enough."""
    return misses >= MISSES_BEFORE_UNREACHABLE and clock() - since >= UNREACHABLE_AFTER_S


def noticeable(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether a new status differs in anything but `lastSeen`: a probe that finds the
    device as it was writes nothing (freshness is a metric, `metrics.FRESHNESS`), so an
    idle fleet wakes no watcher; `lastSeen` is written along with a real change."""
    return any(before.get(k) != v for k, v in after.items() if k != "lastSeen")


# One probe owner per device: the timer (it fires as soon as the operator sees the device,
# then every interval). No resume handler: at start-up it would probe a second time at
# the same moment, under the start-up load, and two misses would land together.
@kopf.on.create(GROUP, VERSION, "devices", id="device-create")
@kopf.on.update(GROUP, VERSION, "devices", id="device-update", field="spec")
async def device_changed(name: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    await reconcile(name, body, patch)


@kopf.timer(GROUP, VERSION, "devices", id="device-probe", interval=PROBE_INTERVAL_S)
async def device_probe(
    name: str, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    if body.status.get("reachable") and streaming(getattr(memo, "runtime", None), name):
        metrics.FRESHNESS.seen("probe", name, PROBE_INTERVAL_S)
        _misses.pop(name, None)
        return  # its telemetry stream answered within the interval: no session to open
    await reconcile(name, body, patch)


def streaming(rt: Any, name: str) -> bool:
    """Whether the device's telemetry stream delivered within the last probe interval: a
    device that streams answers, so an idle fleet opens no probe session per device (a TLS
    or SSH handshake each) — reachability from the telemetry stream, probes otherwise."""
    heard = None if rt is None else rt.heard.get(name)
    return heard is not None and time.monotonic() - heard < PROBE_INTERVAL_S


@kopf.on.delete(GROUP, VERSION, "devices", id="device-delete", optional=True)
async def device_deleted(name: str, **_: Any) -> None:
    log.info("device.deleted", kind="Device", name=name)
