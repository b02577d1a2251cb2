"""Who may use which customer port, and what a tenant may see of shared device config.

The platform team assigns each customer port to one tenant (a namespace) with a
`PortAssignment`. An intent may only attach to ports assigned to its own namespace; the
refusal names the port and the intent's namespace, never who holds the port.

Device configuration is shared: a core port carries every service routed over it, and each
item lists the intents that own it. What a tenant reads (its Transactions, dry runs) is cut
down to the items one of its own intents owns, with the owner lists reduced to its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    Policer,
    SubInterface,
    Vlan,
    Vrf,
)

_T = TypeVar("_T", Interface, Vlan, Policer, Vrf, SubInterface)

Port = tuple[str, str]  # (device, interface)

_NAME_UNSAFE = re.compile(r"[/:_]")


def assignment_name(device: str, interface: str) -> str:
    """The PortAssignment object's name for a port (the CRD checks it): one per port."""
    return f"{device}.{_NAME_UNSAFE.sub('-', interface.lower())}"


def show_port(port: Port) -> str:
    return f"{port[0]}/{port[1]}"


@dataclass(frozen=True)
class PortRefusal:
    """Ports an intent asked for that are not its namespace's."""

    namespace: str
    ports: tuple[Port, ...]

    @property
    def message(self) -> str:
        shown = ", ".join(show_port(p) for p in self.ports)
        verb = "is" if len(self.ports) == 1 else "are"
        return (
            f"{shown} {verb} not assigned to namespace {self.namespace}: the platform team "
            f"assigns customer ports to tenants with a PortAssignment"
        )


def unassigned(
    namespace: str, endpoints: Iterable[Port], assignments: Mapping[Port, str]
) -> PortRefusal | None:
    """The endpoints not assigned to `namespace` (in the order asked), or None if all are."""
    missing = tuple(
        dict.fromkeys(p for p in endpoints if assignments.get((p[0], p[1])) != namespace)
    )
    return PortRefusal(namespace, missing) if missing else None


def owned_by(namespace: str, owner: str) -> bool:
    """Whether an item owner ("namespace/name", or "slice:namespace/name") is the tenant's."""
    return owner.removeprefix("slice:").split("/", 1)[0] == namespace


def _keep(items: Sequence[_T], namespace: str) -> list[_T]:
    kept = []
    for item in items:
        owners = frozenset(o for o in item.owners if owned_by(namespace, o))
        if owners:
            kept.append(item.model_copy(update={"owners": owners}))
    return kept


def tenant_view(tree: DeviceConfigTree, namespace: str) -> DeviceConfigTree:
    """Only the items an intent of `namespace` owns, each listing only those owners."""
    return DeviceConfigTree(
        interfaces=_keep(tree.interfaces, namespace),
        vlans=_keep(tree.vlans, namespace),
        policers=_keep(tree.policers, namespace),
        vrfs=_keep(tree.vrfs, namespace),
        subinterfaces=_keep(tree.subinterfaces, namespace),
    )


def foreign_owners(trees: Iterable[DeviceConfigTree], namespace: str) -> set[str]:
    """Every owner named in `trees` that is not the tenant's."""
    found: set[str] = set()
    for tree in trees:
        items = (*tree.interfaces, *tree.vlans, *tree.policers, *tree.vrfs, *tree.subinterfaces)
        found.update(o for item in items for o in item.owners if not owned_by(namespace, o))
    return found


def redact(text: str, owners: Iterable[str]) -> str:
    """`text` with every one of `owners` (other tenants' intents, "namespace/name") replaced
    by a neutral word, also where device item names spell them "namespace.name"."""
    forms = {form for o in owners for form in (o, o.removeprefix("slice:").replace("/", "."))}
    for form in sorted(forms, key=len, reverse=True):  # longest first: no partial hits
        text = text.replace(form, "(another intent)")
    return text
