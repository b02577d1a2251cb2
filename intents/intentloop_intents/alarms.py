"""Which alarms should be active now, each tied to the root cause that explains it.

The assurance loop is level-triggered: every pass it hands the faults it observes, the
services with their paths and SLA verdicts, and the topology to `desired_alarms`, then
diffs the answer against the Alarm objects that exist (`merge_state` says what to write,
`expired` when a cleared one may go). Nothing here remembers anything between passes, so a
restarted operator converges on the same alarms.

Correlation walks the topology, which works for any network shape (not only one fabric
design): a device that is unreachable -- or cut off because every one of its links is down
-- explains the link-down alarms at its ports, and a service whose path crosses a down
link or an unreachable device gets a `serviceImpacted` alarm pointing at that root cause,
which lists it back. So a NOC sees one root cause with its consequences underneath instead
of a storm of unrelated alarms, and a tenant sees in its own namespace why its service
suffers (naming only what is on its own path) without reading the infrastructure alarms.

The link and device state come from both lists handed in: a `linkDown` fault *and* a link
the topology shows down both count, as do a `deviceUnreachable` fault and a declared,
unreachable device. The operator fills both from the same resources; taking their union
means an alarm cannot vanish because one of the two views lagged a watch event behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from intentloop_intents import correlation
from intentloop_intents.alarmstatus import expired, merge_state
from intentloop_intents.correlation import AlarmRef, ServiceRef, alarm_key
from intentloop_intents.topology import Topology

__all__ = [
    "MAX_TEXT",
    "DesiredAlarm",
    "Fault",
    "ServiceView",
    "alarm_key",
    "desired_alarms",
    "expired",
    "merge_state",
]

FaultKind = Literal["linkDown", "deviceUnreachable", "drift", "transactionFailed"]

MAX_TEXT = 1024  # AlarmStatus.specificProblem's schema bound


@dataclass(frozen=True)
class Fault:
    """An infrastructure fault observed now (by telemetry, a probe or a failed change)."""

    kind: FaultKind
    source_kind: str  # "Link", "Device", "NetworkService", ...
    source_name: str
    source_namespace: str | None
    detail: str


@dataclass(frozen=True)
class ServiceView:
    """What correlation needs to know about one service: where it runs and how it is doing.

    `impacted_links` is a hint from the SLA evaluation (e.g. `SlaVerdict.culprits`, or the
    link a service was moved away from): a fault on one of those links explains the SLA
    violation even when the link is no longer on the path.
    """

    namespace: str
    name: str
    path_links: tuple[str, ...]
    path_devices: tuple[str, ...]
    backup_links: tuple[str, ...]
    sla_violated: bool
    sla_detail: str
    impacted_links: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesiredAlarm:
    """One alarm that should be active now, shaped like X.733 / TMF642.

    `key` is the Alarm object's name in `namespace`; it depends only on the source and the
    probable cause, so the same problem always maps to the same object (raised, cleared,
    raised again) and two observations of it can never make two alarms.
    """

    key: str
    namespace: str
    alarm_type: str
    perceived_severity: str
    probable_cause: str
    specific_problem: str
    source: tuple[str, str, str | None]  # (kind, name, namespace)
    is_root_cause: bool
    root_cause: AlarmRef | None
    correlated: tuple[AlarmRef, ...]
    affected_services: tuple[ServiceRef, ...]
    threshold: dict[str, Any] | None = None  # TMF642 crossedThresholdInformation, if any
    maintenance: str | None = None  # the Maintenance that makes this alarm expected

    @property
    def ref(self) -> AlarmRef:
        return (self.namespace, self.key)


def desired_alarms(
    faults: Sequence[Fault],
    services: Sequence[ServiceView],
    topology: Topology,
    *,
    infra_namespace: str = "intentloop-system",
) -> list[DesiredAlarm]:
    """Every alarm that should be active now, correlated, sorted by (namespace, key).

    Infrastructure alarms (links, devices, cluster-scoped sources) live in
    `infra_namespace`; alarms about a service, or any fault with a namespaced source, live
    in that namespace. Anything the operator holds that is not in this list is cleared.
    """
    drafts = correlation.correlate(faults, services, topology, infra_namespace=infra_namespace)
    return [
        DesiredAlarm(
            key=draft.key,
            namespace=draft.namespace,
            alarm_type=draft.alarm_type,
            perceived_severity=draft.severity,
            probable_cause=draft.cause,
            specific_problem=_bounded(draft.problem),
            source=draft.source,
            is_root_cause=draft.root is None,
            root_cause=draft.root,
            correlated=tuple(sorted(draft.correlated)),
            affected_services=tuple(sorted(draft.affected)),
        )
        for draft in sorted(drafts, key=lambda d: (d.namespace, d.key))
    ]


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
