"""Inventory, owned by the platform team: Device, Link, ResourcePool (cluster-scoped)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from intentloop_intents.resources.meta import (
    LIST_SET,
    CamelModel,
    Conditions,
    InterfaceName,
    K8sName,
    SecretRef,
    ShortText,
    StatusModel,
    cel,
    list_map,
    validations,
)

# A host name, an IPv4 address or an IPv6 address (checked loosely by pattern, exactly by CEL).
Address = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^(([A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$",
    ),
]
Port = Annotated[int, Field(ge=1, le=65535)]
SshHostKey = Annotated[
    str,
    Field(
        max_length=4096,
        pattern=r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$",
        description="The device's SSH host public key, 'TYPE BASE64'; NETCONF sessions to a "
        "device presenting any other key are refused.",
    ),
]


class DriftPolicy(StrEnum):
    REPAIR = "repair"
    REPORT = "report"


class DeviceModel(StrEnum):
    INTENTLOOP = "intentloop"
    OPENCONFIG = "openconfig"


class DeviceRole(StrEnum):
    CORE = "core"
    EDGE = "edge"
    ACCESS = "access"


class NetconfEndpoint(CamelModel):
    port: Port = 830
    """NETCONF-over-SSH port on the device's address."""
    host_key: SshHostKey
    """The device's SSH host public key, 'TYPE BASE64'; any other key is refused."""
    credentials_secret_ref: SecretRef = Field(
        description="A kubernetes.io/ssh-auth Secret: 'username' and 'ssh-privatekey'."
    )


class GnmiTls(CamelModel):
    ca_secret_ref: SecretRef = Field(description="A Secret whose 'ca.crt' signs the target.")
    server_name: Annotated[str, Field(max_length=253)] = ""


class GnmiEndpoint(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.insecure || has(self.tls)",
                "tls is required unless insecure is explicitly true",
                field_path=".tls",
            )
        )
    }

    port: Port = 57400
    """gNMI (gRPC) port on the device's address."""
    tls: GnmiTls | None = None
    """TLS settings; required unless insecure is true."""
    insecure: bool = Field(
        default=False, description="Plain-text gNMI. Only for labs; TLS is the default."
    )
    credentials_secret_ref: SecretRef | None = None


class DeviceSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "has(self.netconf) || has(self.gnmi)",
                "a device needs at least one management endpoint: netconf or gnmi",
            ),
            cel(
                "!has(self.model) || self.model != 'openconfig' || has(self.gnmi)",
                "model openconfig is configured over gNMI: the device needs a gnmi endpoint",
                field_path=".model",
            ),
            cel(
                "!self.address.contains(':') || isIP(self.address)",
                "address is not a valid IPv6 address",
                field_path=".address",
            ),
            cel(
                "!self.address.matches('^[0-9.]+$') || isIP(self.address)",
                "address is not a valid IPv4 address",
                field_path=".address",
            ),
        )
    }

    address: Address
    """Management address: IPv4, IPv6 or host name."""
    platform: ShortText = ""
    """Free-text platform (vendor, OS) for people and adapters."""
    model: DeviceModel = DeviceModel.INTENTLOOP
    """The configuration model (platform profile) the device speaks: `intentloop` (the
    project's own `intentloop-device` YANG module, over NETCONF or gNMI) or `openconfig`
    (the published OpenConfig modules as gNMI JSON_IETF; needs `gnmi`, and configuration
    then goes over gNMI even when the device also has `netconf`)."""
    role: DeviceRole = DeviceRole.EDGE
    """Role in the network: core, edge or access."""
    site: ShortText = ""
    """Site or location name."""
    drift_policy: DriftPolicy = DriftPolicy.REPAIR
    """What to do when the running config differs from intent: repair it, or only report it."""
    interfaces: list[InterfaceName] = Field(
        default_factory=list,
        max_length=1024,
        description="Customer-facing ports that services may use.",
        json_schema_extra=LIST_SET,
    )
    netconf: NetconfEndpoint | None = None
    """NETCONF endpoint; when present, configuration goes over NETCONF."""
    gnmi: GnmiEndpoint | None = None
    """gNMI endpoint: telemetry, and configuration for devices without NETCONF. A device
    without one streams its telemetry as NETCONF notifications."""


class DeviceStatus(StatusModel):
    phase: ShortText = ""
    """Ready or Unreachable."""
    reachable: bool | None = None
    """Whether the last connection attempt succeeded."""
    capabilities: list[Annotated[str, Field(max_length=1024)]] = Field(default_factory=list)
    software_version: ShortText = ""
    """Software version the device reports."""
    in_sync: bool | None = None
    """Whether the running config matches the DeviceConfig."""
    last_seen: datetime | None = None
    """When the device answered the probe that last changed this status (reachability,
    version, capabilities); probes that find nothing new write nothing. How recently every
    device answered is the metric `intentloop_device_check_oldest_timestamp_seconds`."""
    observed_generation: int | None = None
    conditions: Conditions


class LinkEndpoint(CamelModel):
    device: K8sName
    interface: InterfaceName


class LinkSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "self.a.device != self.b.device || self.a.interface != self.b.interface",
                "a and b must be two different endpoints",
                field_path=".b",
            ),
            cel(
                "self.a.device != self.b.device",
                "a link joins two different devices",
                field_path=".b.device",
            ),
        )
    }

    a: LinkEndpoint
    """One end of the link."""
    b: LinkEndpoint
    """The other end of the link."""
    capacity_mbps: int = Field(gt=0, le=10_000_000)
    """Capacity in Mbit/s that services may reserve."""
    latency_ms: float = Field(default=1.0, ge=0, le=10_000)
    """Nominal one-way latency in milliseconds."""
    cost: int = Field(default=10, ge=1, le=1_000_000)
    """Routing cost: lower is preferred."""
    srlgs: list[ShortText] = Field(
        default_factory=list,
        max_length=64,
        description="Shared-risk link groups: links that fail together.",
        json_schema_extra=LIST_SET,
    )


class OperState(StrEnum):
    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


class LinkStatus(StatusModel):
    oper_state: OperState = OperState.UNKNOWN
    """Operational state from telemetry: up, down or unknown."""
    measured_latency_ms: float | None = None
    """Latency measured by telemetry, in milliseconds."""
    utilisation_mbps: float | None = None
    """Traffic measured on the link, in Mbit/s."""
    reserved_mbps: int = 0
    """Bandwidth reserved by admitted slices and services."""
    observed_generation: int | None = None
    conditions: Conditions


class PoolKind(StrEnum):
    VLAN = "vlan"
    """Customer VLANs chosen for endpoints that give none (and link tags without linkTag)."""
    VRF = "vrf"
    ROUTE_TARGET = "routeTarget"
    LINK_TAG = "linkTag"
    """Tags of core links: the ranges apply to every link, each link has its own values."""
    SERVICE_ID = "serviceId"
    """Network-wide service IDs (route targets derive from them), up to 2^32-1."""


class IdRange(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel("self.start <= self.end", "start must not be greater than end", field_path=".end")
        )
    }

    start: int = Field(ge=0, le=4_294_967_295)
    """First value, inclusive."""
    end: int = Field(ge=0, le=4_294_967_295)
    """Last value, inclusive."""


class ResourcePoolSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!(self.kind in ['vlan', 'linkTag'])"
                " || self.ranges.all(r, r.start >= 1 && r.end <= 4094)",
                "VLAN and link tag pools must stay within 1..4094",
                field_path=".ranges",
            ),
        )
    }

    kind: PoolKind
    """What the pool hands out: vlan, linkTag, serviceId, vrf or routeTarget."""
    ranges: list[IdRange] = Field(min_length=1, max_length=64, json_schema_extra=list_map("start"))
    """Inclusive ranges of values."""
    exclude: list[Annotated[int, Field(ge=0, le=4_294_967_295)]] = Field(
        default_factory=list, max_length=4096, json_schema_extra=LIST_SET
    )
    """Values never handed out."""
    route_target_asn: int | None = Field(
        default=None, ge=1, le=4_294_967_295, description="ASN used in allocated route targets"
    )


class ResourcePoolStatus(StatusModel):
    size: int = 0
    allocated: int = 0
    observed_generation: int | None = None
    conditions: Conditions


__all__ = [
    "AllocationSpec",
    "AllocationStatus",
    "DeviceSpec",
    "DeviceStatus",
    "DriftPolicy",
    "GnmiEndpoint",
    "LinkSpec",
    "LinkStatus",
    "NetconfEndpoint",
    "PortAssignmentSpec",
    "PortAssignmentStatus",
    "ResourcePoolSpec",
    "ResourcePoolStatus",
]


class AllocationSpec(CamelModel):
    """One value taken from a pool. The object's name is `<pool>-<value>`: creating it is
    the lock, so two operator replicas can never hand out the same value."""

    pool: K8sName
    """The ResourcePool the value comes from."""
    value: int = Field(ge=0, le=4_294_967_295)
    """The allocated value."""
    owner: Annotated[str, Field(min_length=1, max_length=253)]
    """The intent holding it, 'namespace/name'."""
    owner_uid: Annotated[str, Field(max_length=64)] = ""
    """UID of the owning intent, so a re-created intent of the same name does not inherit."""


class AllocationStatus(StatusModel):
    observed_generation: int | None = None


NamespaceName = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]

# The object's name must be the port's: `<device>.<interface>`, the interface lower-cased with
# '/', ':' and '_' written as '-'. Names are unique, so a port can have one assignment only.
PORT_ASSIGNMENT_NAME_RULE = cel(
    "self.metadata.name == self.spec.device + '.' + self.spec.interface.lowerAscii()"
    ".replace('/', '-').replace(':', '-').replace('_', '-')",
    "metadata.name must be <device>.<interface> (interface lower-cased, '/', ':' and '_' "
    "as '-'), so that a port can be assigned only once",
)


class PortAssignmentSpec(CamelModel):
    """A customer-facing port given to one tenant. Services and slices of that tenant's
    namespace may use the port; every other namespace's are refused."""

    device: K8sName
    """Name of the Device."""
    interface: InterfaceName
    """The customer-facing interface on that device."""
    tenant: NamespaceName
    """The namespace whose intents may use the port."""


class PortAssignmentStatus(StatusModel):
    observed_generation: int | None = None
