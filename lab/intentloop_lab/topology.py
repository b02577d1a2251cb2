"""The shape of a lab network: which routers exist, how they are wired, what each link offers.

A topology is data a person writes (YAML, camelCase keys like the custom resources) and the
lab daemon builds from it. Interface names on links are *derived* (`core-<peer>`) rather than
written, so a topology cannot contradict itself about which port faces which neighbour and
the inventory, the data plane and the routers all agree on the same names.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

RouterName = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
]
PortName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_/:.\-]*$")
]
Platform = Literal["netconf", "gnmi"]
Telemetry = Literal["gnmi", "netconf"]
ConfigModel = Literal["intentloop", "openconfig"]
Role = Literal["core", "edge", "access"]

CORE_PREFIX = "core-"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Router(_Model):
    """One lab router; `ports` are its customer-facing interfaces.

    `telemetry` says how it streams interface state: `gnmi` (a gNMI target, also beside
    netconfd on a NETCONF router) or `netconf` (NETCONF notifications, no gNMI at all:
    the kind of device the controller must watch without gNMI; NETCONF routers only).
    `model` is the configuration model it serves: NETCONF routers speak the project's
    `intentloop-device` module (netconfd loads it), gNMI routers OpenConfig unless
    `model: intentloop` says otherwise.
    """

    name: RouterName
    platform: Platform
    site: str = Field(default="lab", min_length=1, max_length=63)
    role: Role = "edge"
    ports: tuple[PortName, ...] = ("eth1", "eth2")
    software_version: str = Field(default="intentloop-lab 1.0", max_length=64)
    telemetry: Telemetry = "gnmi"
    model: ConfigModel | None = None

    @property
    def config_model(self) -> ConfigModel:
        if self.model is not None:
            return self.model
        return "openconfig" if self.platform == "gnmi" else "intentloop"


class Link(_Model):
    """A point-to-point link between two routers, as the path computation sees it."""

    a: RouterName
    b: RouterName
    capacity_mbps: int = Field(ge=1, le=400_000)
    latency_ms: float = Field(ge=0, le=10_000)
    cost: int = Field(default=10, ge=1, le=1_000_000)
    srlgs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """`<a>-<b>` in the order written, the name of the Link resource."""
        return f"{self.a}-{self.b}"

    @property
    def a_interface(self) -> str:
        return core_interface(self.b)

    @property
    def b_interface(self) -> str:
        return core_interface(self.a)

    def key(self) -> frozenset[str]:
        """The unordered pair of ends: `link down r2 r1` means the same link as `r1 r2`."""
        return frozenset((self.a, self.b))

    def interface_on(self, router: str) -> str:
        if router == self.a:
            return self.a_interface
        if router == self.b:
            return self.b_interface
        raise KeyError(f"link {self.name} does not touch {router}")

    def peer_of(self, router: str) -> str:
        if router == self.a:
            return self.b
        if router == self.b:
            return self.a
        raise KeyError(f"link {self.name} does not touch {router}")


class Topology(_Model):
    """A whole lab network; validation names the offending entry so a typo is easy to fix."""

    name: RouterName = "default"
    routers: tuple[Router, ...] = Field(min_length=1)
    links: tuple[Link, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Topology:
        names = [r.name for r in self.routers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"routers: duplicate name {duplicates[0]!r}")
        seen: set[frozenset[str]] = set()
        for index, link in enumerate(self.links):
            where = f"links[{index}] ({link.a}-{link.b})"
            for end in (link.a, link.b):
                if end not in names:
                    raise ValueError(f"{where}: unknown router {end!r}")
            if link.a == link.b:
                raise ValueError(f"{where}: a link needs two different routers")
            if link.key() in seen:
                raise ValueError(f"{where}: a link between these routers already exists")
            seen.add(link.key())
        for router in self.routers:
            _check_router(router)
        return self

    def router(self, name: str) -> Router:
        for router in self.routers:
            if router.name == name:
                return router
        raise KeyError(f"no router {name!r} in topology {self.name!r}")

    def link(self, a: str, b: str) -> Link:
        wanted = frozenset((a, b))
        for link in self.links:
            if link.key() == wanted:
                return link
        raise KeyError(f"no link between {a!r} and {b!r} in topology {self.name!r}")

    def links_of(self, router: str) -> Iterator[Link]:
        return (link for link in self.links if router in (link.a, link.b))

    def interfaces_of(self, router: str) -> tuple[str, ...]:
        """Customer ports first, then one core interface per link, in topology order."""
        core = tuple(link.interface_on(router) for link in self.links_of(router))
        return self.router(router).ports + core


def _check_router(router: Router) -> None:
    clashing = [p for p in router.ports if p.startswith(CORE_PREFIX)]
    if clashing:
        raise ValueError(
            f"routers[{router.name}].ports: {clashing[0]!r} uses the reserved "
            f"prefix {CORE_PREFIX!r} of link interfaces"
        )
    if len(set(router.ports)) != len(router.ports):
        raise ValueError(f"routers[{router.name}].ports: duplicate port")
    if router.model == "openconfig" and router.platform != "gnmi":
        raise ValueError(
            f"routers[{router.name}].model: 'openconfig' needs platform 'gnmi' "
            "(the lab's NETCONF routers are netconfd with the intentloop-device module)"
        )
    if router.telemetry == "netconf" and router.platform != "netconf":
        raise ValueError(
            f"routers[{router.name}].telemetry: 'netconf' needs platform 'netconf' "
            f"(a {router.platform} router streams its telemetry over gNMI)"
        )


def core_interface(peer: str) -> str:
    """The name of the interface that faces `peer`."""
    return f"{CORE_PREFIX}{peer}"


def parse_topology(text: str, *, source: str = "<topology>") -> Topology:
    """A topology from YAML text; errors say which file and which entry is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping with 'routers' and 'links'")
    try:
        return Topology.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from exc


def load_topology(path: Path) -> Topology:
    return parse_topology(path.read_text(encoding="utf-8"), source=str(path))


def default_topology() -> Topology:
    """Six routers in a ring with two chords, mixed platforms; ships as `default.yaml`."""
    text = resources.files("intentloop_lab").joinpath("topologies/default.yaml").read_text()
    return parse_topology(text, source="topologies/default.yaml")


def dump_topology(topology: Topology) -> str:
    """YAML a person can edit and load again (camelCase keys, defaults spelled out)."""
    data = topology.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False)
