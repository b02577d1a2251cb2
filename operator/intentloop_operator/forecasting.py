"""Ahead of faults: per-link forecasts from telemetry, services at risk, alarms to say so.

The assurance loop calls `sample` and `assess` on every pass. `sample` feeds each link's
latency (the effective latency the topology holds, i.e. the last telemetry measurement)
and its measured rate into one Holt forecast per series (`intentloop_intents.forecast`),
at most once per `SAMPLE_S` so that passes woken early by telemetry do not turn jitter
into steep trends. `assess` asks `intentloop_intents.risks` which services whose SLA is met
now are forecast to breach within the horizon; the assurance loop moves them (make before
break, through the same damper as any re-path) and `alarms` raises the warning alarms that
say when and why, naming the services that cannot be moved and the reason.

The horizon is `INTENTLOOP_FORECAST_HORIZON_S` (seconds, default 30; 0 turns forecasting
off) and the utilisation threshold `INTENTLOOP_UTILISATION_THRESHOLD` (a fraction of the
link's capacity, default 0.9). The memory is in-process: after a restart the forecasts
need `min_samples` samples again before they are trusted, which errs on the side of doing
nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from intentloop_intents import forecast, risks
from intentloop_intents.alarms import DesiredAlarm
from intentloop_operator.runtime import Runtime

SAMPLE_S = 1.0
DEFAULT_HORIZON_S = 30.0
DEFAULT_UTILISATION_THRESHOLD = 0.9
HORIZON_ENV = "INTENTLOOP_FORECAST_HORIZON_S"
THRESHOLD_ENV = "INTENTLOOP_UTILISATION_THRESHOLD"


@dataclass(frozen=True)
class Settings:
    horizon_s: float = DEFAULT_HORIZON_S
    utilisation_threshold: float = DEFAULT_UTILISATION_THRESHOLD
    smoothing: forecast.Smoothing = field(default_factory=forecast.Smoothing)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings; a value that is not a number, or out of range, is refused."""
        horizon = float(environ.get(HORIZON_ENV) or DEFAULT_HORIZON_S)
        threshold = float(environ.get(THRESHOLD_ENV) or DEFAULT_UTILISATION_THRESHOLD)
        if not horizon >= 0:
            raise ValueError(f"{HORIZON_ENV} must be a number of seconds >= 0")
        if not 0 < threshold <= 1:
            raise ValueError(f"{THRESHOLD_ENV} must be a fraction in (0, 1]")
        return cls(horizon_s=horizon, utilisation_threshold=threshold)

    @property
    def enabled(self) -> bool:
        return self.horizon_s > 0


class Forecasting:
    """Per-link forecasts and the latest assessment (owned by the assurance loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.latency: dict[str, forecast.Holt] = {}
        self.rate: dict[str, forecast.Holt] = {}
        self.risks: list[risks.Risk] = []
        self.unmovable: dict[str, str] = {}  # service owner -> why it cannot move away
        self._sampled_at: float | None = None

    @classmethod
    def from_environment(cls) -> Forecasting:
        return cls(Settings.from_environment(os.environ))

    def sample(self, rt: Runtime, now: float) -> None:
        """Feed every link's current latency and rate (a down link's series restart)."""
        if not self.settings.enabled:
            return
        if self._sampled_at is not None and now - self._sampled_at < SAMPLE_S:
            return
        self._sampled_at = now
        smoothing = self.settings.smoothing
        present = set()
        for link in rt.topology.links():
            present.add(link.name)
            if not link.oper_up:  # a down link has no latency; its trend starts again
                self.latency.pop(link.name, None)
                self.rate.pop(link.name, None)
                continue
            if link.measured_latency_ms is not None:
                before = self.latency.get(link.name)
                self.latency[link.name] = forecast.update(
                    before, now, link.measured_latency_ms, smoothing
                )
            rates = rt.link_rates.get(link.name)
            if rates:
                before = self.rate.get(link.name)
                self.rate[link.name] = forecast.update(before, now, max(rates.values()), smoothing)
        for gone in (set(self.latency) | set(self.rate)) - present:
            self.latency.pop(gone, None)
            self.rate.pop(gone, None)

    def assess(self, rt: Runtime, now: float) -> list[risks.Risk]:
        """Services whose SLA is met now but is forecast to be breached within the horizon."""
        if not self.settings.enabled:
            self.risks = []
            return []
        services = []
        for owner, obj in sorted(rt.services.items()):
            verdict = rt.sla.get(owner)
            links = tuple(obj.get("status", {}).get("pathLinks", []))
            if verdict is None or not verdict.met or not links:
                continue  # a breach already seen is the SLA check's to act on
            namespace, name = owner.split("/", 1)
            bound = (obj["spec"].get("sla") or {}).get("maxLatencyMs")
            services.append(risks.ServicePath(namespace, name, links, bound))
        f = risks.Forecasts(
            latency=self.latency,
            rate=self.rate,
            capacity_mbps={link.name: link.capacity_mbps for link in rt.topology.links()},
            horizon_s=self.settings.horizon_s,
            smoothing=self.settings.smoothing,
            utilisation_threshold=self.settings.utilisation_threshold,
        )
        self.risks = risks.at_risk(services, f, now)
        at_risk = {f"{r.service.namespace}/{r.service.name}" for r in self.risks}
        self.unmovable = {o: why for o, why in self.unmovable.items() if o in at_risk}
        return self.risks

    def alarms(self, now: datetime, *, infra_namespace: str) -> list[DesiredAlarm]:
        return risks.predicted_alarms(
            self.risks, now, infra_namespace=infra_namespace, unmovable=self.unmovable
        )
