"""Services at risk: a forecast breach of their SLA, or of a link's utilisation threshold.

`at_risk` reads the per-link forecasts (`forecast.Holt`, one for latency and one for the
measured rate of each link) and says, per service whose path still meets its SLA, whether
it is forecast to stop meeting it within the horizon, when, and which links to blame -- the
links the service should be moved away from. Two things put a service at risk:

- latency: the forecast latency of its path (the sum of its links' forecasts) reaches its
  `sla.maxLatencyMs` within the horizon; the links to blame are those of the path whose
  own rise over the horizon stands out from their noise;
- utilisation: a link of its path is forecast to carry more than `utilisation_threshold`
  of its capacity within the horizon (a saturated link drops packets of every service on
  it, whatever their bound).

`predicted_alarms` turns the risks into warning alarms shaped like TMF642's threshold
crossing alarms: one per blamed link in the infrastructure namespace (a root cause, listing
the services at risk) and one per service in its tenant's namespace pointing at it; each
carries `crossedThresholdInformation` (indicator, observed value, threshold, trend and when
the crossing is expected) so a person reads when and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from intentloop_intents import forecast
from intentloop_intents.alarms import DesiredAlarm
from intentloop_intents.correlation import alarm_key

LATENCY_PREDICTED = "slaBreachPredicted"
UTILISATION_PREDICTED = "thresholdCrossingPredicted"

Indicator = Literal["latencyMs", "utilisationMbps"]


@dataclass(frozen=True)
class ServicePath:
    """One service as the forecast sees it: where it runs and its latency bound."""

    namespace: str
    name: str
    links: tuple[str, ...]
    bound_ms: float | None


@dataclass(frozen=True)
class Risk:
    """A service forecast to breach: which indicator, on which links, and when."""

    service: ServicePath
    indicator: Indicator
    links: tuple[str, ...]  # to move away from
    crossing: forecast.Crossing

    @property
    def reason(self) -> str:
        c = self.crossing
        what = "path latency" if self.indicator == "latencyMs" else f"link {self.links[0]} load"
        unit = "ms" if self.indicator == "latencyMs" else "Mbps"
        return (
            f"{what} forecast to reach {c.threshold:g} {unit} within {_coarse(c.in_s)} s "
            f"(now about {round(c.current * 2) / 2:g} {unit} and rising) on "
            f"{', '.join(self.links)}"
        )


def _coarse(seconds: float) -> int:
    """Seconds rounded up to 5 s: wording that does not change with every sample."""
    return 5 * -(-int(seconds) // 5) if seconds > 0 else 0


@dataclass(frozen=True)
class Forecasts:
    """What `at_risk` reads: per-link series and capacities, and how to judge them."""

    latency: Mapping[str, forecast.Holt]
    rate: Mapping[str, forecast.Holt]
    capacity_mbps: Mapping[str, float]
    horizon_s: float
    smoothing: forecast.Smoothing = field(default_factory=forecast.Smoothing)
    utilisation_threshold: float = 0.9  # of capacity


def at_risk(services: Sequence[ServicePath], f: Forecasts, now: float) -> list[Risk]:
    """Every service forecast to breach within the horizon, earliest breach first."""
    found = []
    for service in services:
        risks = [_latency_risk(service, f, now), *_utilisation_risks(service, f, now)]
        known = [r for r in risks if r is not None]
        if known:
            found.append(min(known, key=lambda r: r.crossing.in_s))
    return sorted(found, key=lambda r: (r.crossing.in_s, r.service.namespace, r.service.name))


def _latency_risk(service: ServicePath, f: Forecasts, now: float) -> Risk | None:
    if service.bound_ms is None or any(name not in f.latency for name in service.links):
        return None
    states = [f.latency[name] for name in service.links]
    crossing = forecast.crossing_within(states, service.bound_ms, now, f.horizon_s, f.smoothing)
    if crossing is None:
        return None
    rising = [name for name in service.links if _rises(f.latency[name], f)]
    blamed = rising or [name for name in service.links if f.latency[name].trend > 0]
    return Risk(service, "latencyMs", tuple(blamed), crossing)


def _rises(state: forecast.Holt, f: Forecasts) -> bool:
    return state.trend * f.horizon_s > f.smoothing.noise_factor * state.error


def _utilisation_risks(service: ServicePath, f: Forecasts, now: float) -> list[Risk | None]:
    risks: list[Risk | None] = []
    for name in service.links:
        state, capacity = f.rate.get(name), f.capacity_mbps.get(name)
        if state is None or not capacity:
            continue
        limit = capacity * f.utilisation_threshold
        crossing = forecast.crossing_within([state], limit, now, f.horizon_s, f.smoothing)
        if crossing is not None:
            risks.append(Risk(service, "utilisationMbps", (name,), crossing))
    return risks


def predicted_alarms(
    risks: Sequence[Risk], now: datetime, *, infra_namespace: str, unmovable: Mapping[str, str]
) -> list[DesiredAlarm]:
    """Warning alarms for `risks` (see the module docstring); `unmovable` maps a service
    owner "namespace/name" to why it cannot be moved, said in its alarm."""
    by_link: dict[tuple[str, Indicator], list[Risk]] = {}
    for risk in risks:
        for link in risk.links:
            by_link.setdefault((link, risk.indicator), []).append(risk)
    found: list[DesiredAlarm] = []
    roots: dict[tuple[str, str], tuple[str, str]] = {}
    for (link, indicator), group in sorted(by_link.items()):
        cause = _cause(indicator)
        key = alarm_key("Link", link, cause)
        for risk in group:
            roots.setdefault((risk.service.namespace, risk.service.name), (infra_namespace, key))
        found.append(_link_alarm(link, key, group, now, infra_namespace))
    for risk in risks:
        service = risk.service
        owner = f"{service.namespace}/{service.name}"
        root = roots.get((service.namespace, service.name))
        found.append(_service_alarm(risk, root, now, unmovable.get(owner)))
    return sorted(found, key=lambda a: (a.namespace, a.key))


def _cause(indicator: Indicator) -> str:
    return LATENCY_PREDICTED if indicator == "latencyMs" else UTILISATION_PREDICTED


def _link_alarm(
    link: str, key: str, group: Sequence[Risk], now: datetime, namespace: str
) -> DesiredAlarm:
    first = min(group, key=lambda r: r.crossing.in_s)
    services = tuple(sorted({(r.service.namespace, r.service.name) for r in group}))
    return DesiredAlarm(
        key=key,
        namespace=namespace,
        alarm_type="qualityOfServiceAlarm",
        perceived_severity="warning",
        probable_cause=_cause(first.indicator),
        specific_problem=f"{len(services)} service(s) at risk: {first.reason}"[:1024],
        source=("Link", link, None),
        is_root_cause=True,
        root_cause=None,
        correlated=tuple(
            sorted(
                (ns, alarm_key("NetworkService", n, _cause(first.indicator))) for ns, n in services
            )
        ),
        affected_services=services,
        threshold=threshold_information(first, now),
    )


def _service_alarm(
    risk: Risk, root: tuple[str, str] | None, now: datetime, unmovable: str | None
) -> DesiredAlarm:
    service = risk.service
    cause = _cause(risk.indicator)
    problem = risk.reason + (f"; cannot be moved: {unmovable}" if unmovable else "")
    return DesiredAlarm(
        key=alarm_key("NetworkService", service.name, cause),
        namespace=service.namespace,
        alarm_type="qualityOfServiceAlarm",
        perceived_severity="warning",
        probable_cause=cause,
        specific_problem=problem[:1024],
        source=("NetworkService", service.name, service.namespace),
        is_root_cause=root is None,
        root_cause=root,
        correlated=(),
        affected_services=((service.namespace, service.name),),
        threshold=threshold_information(risk, now),
    )


def threshold_information(risk: Risk, now: datetime) -> dict[str, Any]:
    """TMF642's `crossedThresholdInformation`, for a crossing that is forecast.

    Values are rounded (half units, 10 s) so that an alarm that stays up is not rewritten
    every pass by a forecast that moves by a hair.
    """
    c = risk.crossing
    when = now + timedelta(seconds=c.in_s)
    when -= timedelta(seconds=when.second % 10, microseconds=when.microsecond)
    return {
        "indicatorName": risk.indicator,
        "indicatorUnit": "ms" if risk.indicator == "latencyMs" else "Mbps",
        "observedValue": f"{round(c.current * 2) / 2:g}",
        "thresholdValue": f"{c.threshold:g}",
        "direction": "up",
        "trendPerSecond": f"{round(c.trend_per_s * 20) / 20:g}",
        "expectedCrossingTime": when.isoformat().replace("+00:00", "Z"),
        "thresholdCrossingDescription": risk.reason[:1024],
    }
