"""Every kind intentloop serves, with what `kubectl` shows of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from intentloop_intents.resources import (
    inventory,
    maintenance,
    northbound,
    operations,
    services,
)


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""


AGE = Column("Age", ".metadata.creationTimestamp", "date")
READY = Column("Ready", '.status.conditions[?(@.type=="Ready")].status')


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    # CEL rules on the whole object (they may read metadata.name, unlike the spec's own)
    validations: tuple[dict[str, str], ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()


KINDS: tuple[Kind, ...] = (
    Kind(
        "Device",
        "devices",
        ("dev",),
        False,
        inventory.DeviceSpec,
        inventory.DeviceStatus,
        "A managed network device: how to reach it (NETCONF and/or gNMI) and its live state.",
        (
            Column("Address", ".spec.address"),
            Column("Role", ".spec.role"),
            Column("Reachable", ".status.reachable", "boolean"),
            Column("In-Sync", ".status.inSync", "boolean"),
            READY,
            Column("Version", ".status.softwareVersion", priority=1),
            AGE,
        ),
    ),
    Kind(
        "Link",
        "links",
        ("lnk",),
        False,
        inventory.LinkSpec,
        inventory.LinkStatus,
        "A link between two device interfaces, with capacity, latency and shared risks.",
        (
            Column("A", ".spec.a.device"),
            Column("B", ".spec.b.device"),
            Column("Capacity", ".spec.capacityMbps", "integer"),
            Column("Reserved", ".status.reservedMbps", "integer"),
            Column("State", ".status.operState"),
            Column("Latency", ".status.measuredLatencyMs", "number"),
            AGE,
        ),
    ),
    Kind(
        "ResourcePool",
        "resourcepools",
        ("rpool",),
        False,
        inventory.ResourcePoolSpec,
        inventory.ResourcePoolStatus,
        "A pool of identifiers (VLANs, VRFs, route targets) handed out to intents.",
        (
            Column("Kind", ".spec.kind"),
            Column("Size", ".status.size", "integer"),
            Column("Allocated", ".status.allocated", "integer"),
            AGE,
        ),
    ),
    Kind(
        "Allocation",
        "allocations",
        ("alloc",),
        False,
        inventory.AllocationSpec,
        inventory.AllocationStatus,
        "One identifier taken from a ResourcePool; its name is the lock on the value.",
        (
            Column("Pool", ".spec.pool"),
            Column("Value", ".spec.value", "integer"),
            Column("Owner", ".spec.owner"),
            AGE,
        ),
    ),
    Kind(
        "PortAssignment",
        "portassignments",
        ("pa",),
        False,
        inventory.PortAssignmentSpec,
        inventory.PortAssignmentStatus,
        "A customer-facing port assigned to one tenant (namespace); its name is the lock.",
        (
            Column("Device", ".spec.device"),
            Column("Interface", ".spec.interface"),
            Column("Tenant", ".spec.tenant"),
            AGE,
        ),
        (inventory.PORT_ASSIGNMENT_NAME_RULE,),
    ),
    Kind(
        "NetworkSlice",
        "networkslices",
        ("nsl", "slice"),
        True,
        services.NetworkSliceSpec,
        services.NetworkSliceStatus,
        "A tenant's share of the network: guaranteed bandwidth and latency between endpoints.",
        (
            Column("Profile", ".spec.profile"),
            Column("Bandwidth", ".spec.guaranteedBandwidthMbps", "integer"),
            Column("Phase", ".status.phase"),
            Column("Reason", ".status.reason", priority=1),
            AGE,
        ),
    ),
    Kind(
        "NetworkService",
        "networkservices",
        ("nsvc",),
        True,
        services.NetworkServiceSpec,
        services.NetworkServiceStatus,
        "A connectivity service between endpoints with bandwidth, SLA and protection.",
        (
            Column("Type", ".spec.type"),
            Column("Bandwidth", ".spec.bandwidthMbps", "integer"),
            Column("Phase", ".status.phase"),
            Column("Service-ID", ".status.allocated.serviceId", "integer"),
            Column("VLAN-A", ".status.allocated.endpoints[0].vlan", "integer", priority=1),
            Column("SLA-Met", ".status.slaMet", "boolean"),
            Column("Path", ".status.path", priority=1),
            AGE,
        ),
    ),
    Kind(
        "Transaction",
        "transactions",
        ("ntx",),
        True,
        operations.TransactionSpec,
        operations.TransactionStatus,
        "One all-or-nothing change across devices, kept as an audit trail.",
        (
            Column("Intent", ".spec.intentRef.name"),
            Column("Dry-Run", ".spec.dryRun", "boolean"),
            Column("Phase", ".status.phase"),
            Column("Failed-Device", ".status.failedDevice"),
            Column("Duration-ms", ".status.durationMs", "number"),
            AGE,
        ),
    ),
    Kind(
        "DeviceConfig",
        "deviceconfigs",
        ("dcfg",),
        False,
        operations.DeviceConfigSpec,
        operations.DeviceConfigStatus,
        "The composed desired configuration of one device, with the intents that own each item.",
        (
            Column("Device", ".spec.device"),
            Column("In-Sync", ".status.inSync", "boolean"),
            Column("Repairs", ".status.repairs", "integer"),
            AGE,
        ),
    ),
    Kind(
        "Alarm",
        "alarms",
        ("alm",),
        True,
        operations.AlarmSpec,
        operations.AlarmStatus,
        "A fault (X.733 / TMF642 shaped), correlated to its root cause on the topology.",
        (
            Column("Severity", ".status.perceivedSeverity"),
            Column("Cause", ".status.probableCause"),
            Column("Source", ".status.source.name"),
            Column("State", ".status.state"),
            Column("Root", ".status.isRootCause", "boolean"),
            Column("Ack", ".spec.acknowledged", "boolean"),
            Column("Count", ".status.count", "integer"),
            AGE,
        ),
    ),
    Kind(
        "ServiceOrder",
        "serviceorders",
        ("sord",),
        True,
        northbound.ServiceOrderSpec,
        northbound.ServiceOrderStatus,
        "A TMF641 service order from a BSS: items that add, modify or delete intents.",
        (
            Column("External-Id", ".spec.externalId"),
            Column("State", ".status.state"),
            Column("Requested-By", ".spec.requestedBy", priority=1),
            AGE,
        ),
    ),
    Kind(
        "TroubleTicket",
        "troubletickets",
        ("tt",),
        True,
        northbound.TroubleTicketSpec,
        northbound.TroubleTicketStatus,
        "A TMF621 trouble ticket: opened for a root-cause alarm affecting services, or by hand.",
        (
            Column("Severity", ".spec.severity"),
            Column("Root-Cause", ".spec.rootCauseAlarm.name"),
            Column("State", ".status.state"),
            AGE,
        ),
    ),
    Kind(
        "EventSubscription",
        "eventsubscriptions",
        ("evsub",),
        True,
        northbound.EventSubscriptionSpec,
        northbound.EventSubscriptionStatus,
        "A TMF hub registration: where the northbound component delivers events.",
        (
            Column("API", ".spec.api"),
            Column("Callback", ".spec.callback"),
            Column("Delivered", ".status.delivered", "integer"),
            Column("Failures", ".status.failures", "integer"),
            AGE,
        ),
    ),
    Kind(
        "Maintenance",
        "maintenances",
        ("mw",),
        False,
        maintenance.MaintenanceSpec,
        maintenance.MaintenanceStatus,
        "A planned maintenance window on a link or device: services drained before it opens.",
        (
            Column("Kind", ".spec.target.kind"),
            Column("Target", ".spec.target.name"),
            Column("Start", ".spec.start", "date"),
            Column("End", ".spec.end", "date"),
            Column("Phase", ".status.phase"),
            AGE,
        ),
    ),
)

CATEGORY = "intentloop"


def by_kind(kind: str) -> Kind:
    for k in KINDS:
        if k.kind == kind:
            return k
    raise KeyError(kind)
