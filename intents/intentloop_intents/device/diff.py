"""What would change on a device, as people read it, whatever protocol carries the change.

Both adapters and the operator show this (Transaction status, dry runs, drift reports), so it
speaks the model's vocabulary (`interfaces[eth1].mtu`) rather than XML or JSON paths. The
item pairing here is also what the protocol renderers use to build minimal edits, so "what
the diff says" and "what is pushed" cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from intentloop_intents.device.model import DeviceConfigTree, StaticRoute

# Each list of the tree and the model fields that form its key, in key order.
COLLECTION_KEYS: dict[str, tuple[str, ...]] = {
    "interfaces": ("name",),
    "vlans": ("vlan_id",),
    "policers": ("name",),
    "vrfs": ("name",),
    "subinterfaces": ("parent", "vlan_id"),
}

ItemKey = tuple[str | int, ...]


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Change(BaseModel):
    """One added or removed item, or one changed field of an item present on both sides."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    collection: str
    key: str
    field: str | None = None
    old: str | None = None
    new: str | None = None

    def __str__(self) -> str:
        where = f"{self.collection}[{self.key}]"
        if self.kind is ChangeKind.ADDED:
            return f"+ {where}"
        if self.kind is ChangeKind.REMOVED:
            return f"- {where}"
        return f"~ {where}.{self.field}: {self.old} -> {self.new}"


def item_key(collection: str, item: BaseModel) -> ItemKey:
    return tuple(getattr(item, field) for field in COLLECTION_KEYS[collection])


def pair_items(
    current: DeviceConfigTree, desired: DeviceConfigTree
) -> Iterator[tuple[str, ItemKey, BaseModel | None, BaseModel | None]]:
    """Every item that differs, as (collection, key, before, after); None means absent.

    Removals come before additions and changes within each collection, keys in sorted order,
    so the output (and any edit built from it) is deterministic.
    """
    for collection in COLLECTION_KEYS:
        before = {item_key(collection, i): i for i in getattr(current, collection)}
        after = {item_key(collection, i): i for i in getattr(desired, collection)}
        for key in sorted(before.keys() - after.keys()):
            yield collection, key, before[key], None
        for key in sorted(after):
            old = before.get(key)
            if old != after[key]:
                yield collection, key, old, after[key]


def changed_fields(before: BaseModel, after: BaseModel) -> list[str]:
    """The non-key fields whose values differ between two versions of one item."""
    names = [name for name in type(after).model_fields if name != "owners"] + ["owners"]
    return [name for name in names if getattr(before, name) != getattr(after, name)]


def diff_trees(current: DeviceConfigTree, desired: DeviceConfigTree) -> list[Change]:
    """The changes that turn `current` into `desired`; empty when they are equal."""
    changes: list[Change] = []
    for collection, key, before, after in pair_items(current, desired):
        shown = ".".join(str(part) for part in key)
        if after is None:
            changes.append(Change(kind=ChangeKind.REMOVED, collection=collection, key=shown))
        elif before is None:
            changes.append(Change(kind=ChangeKind.ADDED, collection=collection, key=shown))
        else:
            for field in changed_fields(before, after):
                changes.append(
                    Change(
                        kind=ChangeKind.CHANGED,
                        collection=collection,
                        key=shown,
                        field=field,
                        old=_show(getattr(before, field)),
                        new=_show(getattr(after, field)),
                    )
                )
    return changes


def render_changes(changes: list[Change]) -> str:
    """One line per change, '' when there is nothing to do."""
    return "\n".join(str(change) for change in changes)


def show_routes(routes: tuple[StaticRoute, ...]) -> str:
    """Static routes as people write them: `[10.2.2.0/24 via 169.254.0.1, ...]`."""
    return "[" + ", ".join(f"{r.prefix} via {r.next_hop}" for r in routes) + "]"


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    if isinstance(value, tuple) and all(isinstance(v, StaticRoute) for v in value):
        return show_routes(value)
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
