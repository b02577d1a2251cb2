"""Composing many intents' contributions into one device configuration, and taking one out.

Every item carries the set of intents that need it. Composition is a keyed union: the same
item wanted by two intents appears once with both owners, so that removing one intent keeps
what the other still needs (the reference counting NSO users rely on). Two intents that
want the same key with *different* attributes cannot both be satisfied: that is an error
naming both owners, never a silent last-writer-wins.

All results are canonical (lists sorted by key), so equal configurations compare equal and
diffs stay stable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from pydantic import BaseModel

from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    Policer,
    SubInterface,
    Vlan,
    Vrf,
)

Item = TypeVar("Item", Interface, Vlan, Policer, Vrf, SubInterface)

_EMPTY = DeviceConfigTree()


class ConfigConflict(ValueError):
    """Two intents need the same item configured differently."""

    def __init__(
        self, device: str, item: str, field: str, ours: object, theirs: object, owners: str
    ) -> None:
        self.device = device
        self.item = item
        self.field = field
        where = f"{device}: " if device else ""
        super().__init__(f"{where}{item}: {field} {ours!r} and {theirs!r} conflict ({owners})")


def merge(trees: Iterable[DeviceConfigTree], *, device: str = "") -> DeviceConfigTree:
    """The union of contributions to one device, owners merged; conflicts raise."""
    trees = list(trees)
    return DeviceConfigTree(
        interfaces=_union([t.interfaces for t in trees], lambda i: i.name, "interface", device),
        vlans=_union([t.vlans for t in trees], lambda v: v.vlan_id, "vlan", device),
        policers=_union([t.policers for t in trees], lambda p: p.name, "policer", device),
        vrfs=_union([t.vrfs for t in trees], lambda v: v.name, "vrf", device),
        subinterfaces=_union(
            [t.subinterfaces for t in trees],
            lambda s: (s.parent, s.vlan_id),
            "subinterface",
            device,
        ),
    ).canonical()


def merge_by_device(
    contributions: Iterable[Mapping[str, DeviceConfigTree]],
) -> dict[str, DeviceConfigTree]:
    """Merge per-device contributions of many intents into one tree per device."""
    grouped: dict[str, list[DeviceConfigTree]] = {}
    for contribution in contributions:
        for device, tree in contribution.items():
            grouped.setdefault(device, []).append(tree)
    return {device: merge(grouped[device], device=device) for device in sorted(grouped)}


def remove_owner(tree: DeviceConfigTree, owner: str) -> DeviceConfigTree:
    """The tree without `owner`: its items lose that owner; items it alone held are dropped.

    Items that never had an owner (not intentloop's to judge) are kept as they are.
    """
    return DeviceConfigTree(
        interfaces=_without(tree.interfaces, owner),
        vlans=_without(tree.vlans, owner),
        policers=_without(tree.policers, owner),
        vrfs=_without(tree.vrfs, owner),
        subinterfaces=_without(tree.subinterfaces, owner),
    ).canonical()


def remove_owner_by_device(
    network: Mapping[str, DeviceConfigTree], owner: str
) -> dict[str, DeviceConfigTree]:
    return {device: remove_owner(network[device], owner) for device in sorted(network)}


def changed_devices(
    before: Mapping[str, DeviceConfigTree], after: Mapping[str, DeviceConfigTree]
) -> tuple[str, ...]:
    """Devices whose configuration differs (owners included: they are pushed too).

    A device missing on one side counts as having an empty configuration.
    """
    names = sorted(set(before) | set(after))
    return tuple(
        name
        for name in names
        if before.get(name, _EMPTY).canonical() != after.get(name, _EMPTY).canonical()
    )


def _union(
    groups: list[tuple[Item, ...]],
    key: Callable[[Item], object],
    kind: str,
    device: str,
) -> tuple[Item, ...]:
    merged: dict[object, Item] = {}
    for group in groups:
        for item in group:
            k = key(item)
            current = merged.get(k)
            if current is None:
                merged[k] = item
                continue
            _check_same(current, item, f"{kind} {_show(k)}", device)
            merged[k] = current.model_copy(update={"owners": current.owners | item.owners})
    return tuple(merged.values())


def _check_same(current: BaseModel, item: BaseModel, label: str, device: str) -> None:
    ours = current.model_dump(exclude={"owners"})
    theirs = item.model_dump(exclude={"owners"})
    for field in ours:
        if ours[field] != theirs[field]:
            owners = f"wanted by {_owners(current)} and by {_owners(item)}"
            raise ConfigConflict(device, label, field, ours[field], theirs[field], owners)


def _owners(item: BaseModel) -> str:
    owners: frozenset[str] = getattr(item, "owners", frozenset())
    return ", ".join(sorted(owners)) or "no owner"


def _show(key: object) -> str:
    if isinstance(key, tuple):
        return ".".join(str(part) for part in key)
    return str(key)


def _without(items: tuple[Item, ...], owner: str) -> tuple[Item, ...]:
    kept: list[Item] = []
    for item in items:
        if owner not in item.owners:
            kept.append(item)
        elif len(item.owners) > 1:
            kept.append(item.model_copy(update={"owners": item.owners - {owner}}))
    return tuple(kept)
