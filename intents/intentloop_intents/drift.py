"""Drift: where a device's running configuration departs from what intentloop intends.

The drift loop reads the running tree back through the adapter (the same model, so
content is compared, never commit ids or timestamps that change on a reboot) and shows the
result in DeviceConfig status and in a `configurationDrift` alarm. Each deviation is one
leaf, or one whole item that is missing or unexpected, with a path a person can find on
the device: `interface[eth1]/description`, `vlan[100]`, `subinterface[eth1.100]/policer`
(list and leaf names as in the YANG module).

Two kinds of false deviation are kept out:
- leaves a device cannot give back as written (a secret it stores hashed, a value it
  normalises): pass their leaf names in `ignore` and they are never compared;
- owners: they are intentloop's bookkeeping (which intents need an item), not network
  behaviour. A device that lost them forwards exactly the same, and the next transaction
  writes them again, so they are compared only with `compare_owners=True`.

Item pairing comes from `device.diff`, the same pairing transactions use to build edits,
so a deviation shown here is exactly something a repair would change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel

from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device.diff import (
    COLLECTION_KEYS,
    ItemKey,
    changed_fields,
    pair_items,
    show_routes,
)
from intentloop_intents.device.model import StaticRoute

ABSENT = "(absent)"
UNSET = "(unset)"
PRESENT = "(present)"  # an item whose every leaf is at its default

# model collection -> YANG list name; model field -> YANG leaf name where they differ
_LISTS = {
    "interfaces": "interface",
    "vlans": "vlan",
    "policers": "policer",
    "vrfs": "vrf",
    "subinterfaces": "subinterface",
}
_LEAVES = {"owners": "owner", "static_routes": "static-route"}


@dataclass(frozen=True)
class Deviation:
    """One difference: `intended` is what DeviceConfig says, `actual` what the device has."""

    path: str
    intended: str
    actual: str


def deviations(
    intended: DeviceConfigTree,
    running: DeviceConfigTree,
    *,
    ignore: Iterable[str] = (),
    compare_owners: bool = False,
) -> list[Deviation]:
    """Every deviation of `running` from `intended`, by list (YANG order) then key.

    `ignore` names leaves that are never compared, as YANG leaf names (`rate-mbps`) or
    model field names (`rate_mbps`), optionally qualified by list (`interface/description`
    ignores descriptions of interfaces only). Key leaves identify items and are always
    compared.
    """
    skip = _normalised(ignore)
    if not compare_owners:
        skip.add("owner")
    order = {collection: index for index, collection in enumerate(_LISTS)}
    found: list[tuple[int, ItemKey, Deviation]] = []
    for collection, key, actual, wanted in pair_items(running.canonical(), intended.canonical()):
        place = (order[collection], key)
        found += [(*place, d) for d in _item_deviations(collection, key, wanted, actual, skip)]
    # pair_items lists removals first; people read one list in key order (sort is stable).
    return [deviation for *_, deviation in sorted(found, key=lambda f: (f[0], f[1]))]


def _item_deviations(
    collection: str,
    key: ItemKey,
    wanted: BaseModel | None,
    actual: BaseModel | None,
    skip: set[str],
) -> list[Deviation]:
    where = f"{_LISTS[collection]}[{'.'.join(str(part) for part in key)}]"
    if wanted is None or actual is None:
        item = wanted if actual is None else actual
        assert item is not None  # pair_items never yields two absent sides
        shown = _summary(collection, item, skip)
        return [
            Deviation(where, shown, ABSENT) if actual is None else Deviation(where, ABSENT, shown)
        ]
    return [
        Deviation(
            f"{where}/{_leaf(name)}", _show(getattr(wanted, name)), _show(getattr(actual, name))
        )
        for name in changed_fields(actual, wanted)
        if not _skipped(collection, _leaf(name), skip)
    ]


def _summary(collection: str, item: BaseModel, skip: set[str]) -> str:
    """A missing or unexpected item in one line: its leaves that are not at their default."""
    keys = COLLECTION_KEYS[collection]
    parts = []
    for name, info in type(item).model_fields.items():
        leaf = _leaf(name)
        value = getattr(item, name)
        if name in keys or _skipped(collection, leaf, skip) or value == info.get_default():
            continue
        parts.append(f"{leaf}={_show(value)}")
    return ", ".join(parts) or PRESENT


def _normalised(ignore: Iterable[str]) -> set[str]:
    """Ignore entries as YANG names: `rate_mbps` and `rate-mbps` mean the same leaf."""
    out: set[str] = set()
    for entry in ignore:
        scope, _, leaf = entry.rpartition("/")
        name = _LEAVES.get(leaf, leaf.replace("_", "-"))
        scope = _LISTS.get(scope, scope)
        out.add(f"{scope}/{name}" if scope else name)
    return out


def _skipped(collection: str, leaf: str, skip: set[str]) -> bool:
    return leaf in skip or f"{_LISTS[collection]}/{leaf}" in skip


def _leaf(field: str) -> str:
    return _LEAVES.get(field, field.replace("_", "-"))


def _show(value: object) -> str:
    """Values as a person types them: `true`, `1500`, `""`, `(unset)`, `[a, b]`."""
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    if isinstance(value, tuple) and all(isinstance(v, StaticRoute) for v in value):
        return show_routes(value)
    if value == "":
        return '""'
    return str(value)
