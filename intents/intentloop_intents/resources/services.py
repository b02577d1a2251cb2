"""Intents, owned by tenants in their namespaces: NetworkSlice and NetworkService."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from intentloop_intents.device.model import interface_address
from intentloop_intents.resources.meta import (
    CamelModel,
    Conditions,
    InterfaceName,
    K8sName,
    ObjectRef,
    ShortText,
    StatusModel,
    Text,
    cel,
    list_map,
    validations,
)

Mbps = Annotated[int, Field(gt=0, le=10_000_000)]
Ipv4Cidr = Annotated[
    str,
    Field(max_length=18, pattern=r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"),
    AfterValidator(interface_address),
]


class Endpoint(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!has(self.address) || isCIDR(self.address)",
                "address must be an IPv4 address with its prefix length, e.g. 10.1.1.1/24",
                field_path=".address",
            ),
        )
    }

    device: K8sName
    """Name of the Device."""
    interface: InterfaceName
    """Customer-facing interface on that device."""
    vlan: int | None = Field(default=None, ge=1, le=4094)
    """The customer's VLAN at this port, unique per port; unset: spec.vlan, else a free one."""
    address: Ipv4Cidr | None = None
    """l3vpn: the provider edge's address/length here (the site's gateway, e.g. 10.1.1.1/24)."""


class SliceProfile(StrEnum):
    """Presets (3GPP service types): what the slice's defaults optimise for."""

    EMBB = "embb"
    URLLC = "urllc"
    MMTC = "mmtc"
    CUSTOM = "custom"


class Isolation(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"


class NetworkSliceSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.endpoints.all(e, !has(e.address))",
                "a slice endpoint has no address: addresses belong to its l3vpn services",
                field_path=".endpoints",
            ),
        )
    }

    profile: SliceProfile = SliceProfile.CUSTOM
    """Preset: embb (broadband), urllc (low latency), mmtc (many devices) or custom."""
    endpoints: list[Endpoint] = Field(
        min_length=2, max_length=64, json_schema_extra=list_map("device", "interface")
    )
    """Where the slice's traffic enters and leaves the network."""
    guaranteed_bandwidth_mbps: Mbps
    """Bandwidth reserved for the slice between its endpoints, Mbit/s."""
    max_latency_ms: float | None = Field(default=None, gt=0, le=10_000)
    """Upper bound on one-way latency between endpoints, ms."""
    isolation: Isolation = Isolation.SHARED
    """shared: links may carry other slices; dedicated: capacity only for this slice's services."""


class SlicePhase(StrEnum):
    PENDING = "Pending"
    ADMITTED = "Admitted"
    REJECTED = "Rejected"


class ReservedPath(StatusModel):
    endpoints: list[ShortText] = Field(default_factory=list)
    links: list[ShortText] = Field(default_factory=list)
    mbps: int = 0
    latency_ms: float = 0.0


class NetworkSliceStatus(StatusModel):
    phase: ShortText = ""
    reason: Text = ""
    reserved: list[ReservedPath] = Field(default_factory=list)
    used_bandwidth_mbps: int = 0
    observed_generation: int | None = None
    conditions: Conditions


class ServiceType(StrEnum):
    L2_P2P = "l2-p2p"
    L3VPN = "l3vpn"


class Protection(StrEnum):
    NONE = "none"
    DISJOINT = "disjoint"


class Sla(CamelModel):
    max_latency_ms: float | None = Field(default=None, gt=0, le=10_000)


class SliceRef(CamelModel):
    name: K8sName


class NetworkServiceSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.type != 'l2-p2p' || size(self.endpoints) == 2",
                "an l2-p2p service has exactly two endpoints",
                field_path=".endpoints",
            ),
            cel(
                "self.type != 'l3vpn' || self.endpoints.all(e, has(e.address))",
                "every endpoint of an l3vpn gives its address (e.g. 10.1.1.1/24)",
                field_path=".endpoints",
            ),
            cel(
                "self.type == 'l3vpn' || self.endpoints.all(e, !has(e.address))",
                "an endpoint address is for l3vpn services; an l2-p2p carries the site's own",
                field_path=".endpoints",
            ),
        )
    }

    type: ServiceType = ServiceType.L2_P2P
    """l2-p2p (two endpoints) or l3vpn (multipoint)."""
    endpoints: list[Endpoint] = Field(
        min_length=2, max_length=32, json_schema_extra=list_map("device", "interface")
    )
    """Service endpoints: {device, interface}."""
    bandwidth_mbps: Mbps
    """Bandwidth to reserve and police, Mbit/s."""
    sla: Sla = Field(default_factory=Sla)
    """Service-level objectives the loop keeps."""
    protection: Protection = Protection.NONE
    """none, or disjoint: a link- and SRLG-disjoint standby path."""
    slice_ref: SliceRef | None = None
    """The NetworkSlice (same namespace) the service must fit inside."""
    vlan: int | None = Field(
        default=None,
        ge=1,
        le=4094,
        description="The customer VLAN at every endpoint that gives none (must be in a VLAN pool)",
    )


class ServicePhase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"
    DELETING = "Deleting"


class Remediation(StatusModel):
    time: datetime
    reason: Text
    from_path: list[ShortText] = Field(default_factory=list)
    to_path: list[ShortText] = Field(default_factory=list)
    outcome: ShortText = ""


class AllocatedEndpoint(StatusModel):
    device: ShortText
    interface: ShortText
    vlan: int
    """The customer's VLAN at this port."""


class Allocated(StatusModel):
    endpoints: list[AllocatedEndpoint] = Field(default_factory=list, max_length=32)
    """The customer VLAN at each endpoint."""
    link_tags: dict[str, int] = Field(default_factory=dict)
    """The tag the service carries on each core link it uses (per link, routers translate)."""
    service_id: int | None = None
    """Network-wide service ID (route targets are derived from it)."""
    vlan: int | None = None
    """Before per-port VLANs: the one VLAN of the whole service (released on its next pass)."""
    vrf: ShortText | None = None
    route_target: ShortText | None = None


class NetworkServiceStatus(StatusModel):
    phase: ShortText = ""
    """Pending, Provisioning, Ready, Degraded, Failed or Deleting."""
    path: list[ShortText] = Field(default_factory=list, description="Devices in path order")
    path_links: list[ShortText] = Field(default_factory=list)
    backup_path: list[ShortText] = Field(default_factory=list)
    backup_path_links: list[ShortText] = Field(default_factory=list)
    allocated: Allocated = Field(default_factory=Allocated)
    measured_latency_ms: float | None = None
    """Latency of the current path from telemetry, ms."""
    sla_met: bool | None = None
    """Whether the SLA is currently met."""
    transaction_ref: ObjectRef | None = None
    """The Transaction that last changed the devices for this service."""
    remediations: list[Remediation] = Field(default_factory=list, max_length=20)
    observed_generation: int | None = None
    conditions: Conditions
