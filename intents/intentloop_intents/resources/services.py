"""Intents, owned by tenants in their namespaces: NetworkSlice and NetworkService."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

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


class Endpoint(CamelModel):
    device: K8sName
    interface: InterfaceName


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
    profile: SliceProfile = SliceProfile.CUSTOM
    endpoints: list[Endpoint] = Field(
        min_length=2, max_length=64, json_schema_extra=list_map("device", "interface")
    )
    guaranteed_bandwidth_mbps: Mbps
    max_latency_ms: float | None = Field(default=None, gt=0, le=10_000)
    isolation: Isolation = Isolation.SHARED


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
        )
    }

    type: ServiceType = ServiceType.L2_P2P
    endpoints: list[Endpoint] = Field(
        min_length=2, max_length=32, json_schema_extra=list_map("device", "interface")
    )
    bandwidth_mbps: Mbps
    sla: Sla = Field(default_factory=Sla)
    protection: Protection = Protection.NONE
    slice_ref: SliceRef | None = None
    vlan: int | None = Field(
        default=None, ge=1, le=4094, description="Ask for this VLAN instead of the pool's choice"
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


class Allocated(StatusModel):
    vlan: int | None = None
    vrf: ShortText | None = None
    route_target: ShortText | None = None


class NetworkServiceStatus(StatusModel):
    phase: ShortText = ""
    path: list[ShortText] = Field(default_factory=list, description="Devices in path order")
    path_links: list[ShortText] = Field(default_factory=list)
    backup_path: list[ShortText] = Field(default_factory=list)
    allocated: Allocated = Field(default_factory=Allocated)
    measured_latency_ms: float | None = None
    sla_met: bool | None = None
    transaction_ref: ObjectRef | None = None
    remediations: list[Remediation] = Field(default_factory=list, max_length=20)
    observed_generation: int | None = None
    conditions: Conditions
