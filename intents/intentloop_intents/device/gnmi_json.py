"""`DeviceConfigTree` as gNMI JSON_IETF, and the smallest set of gNMI edits between two trees.

The wire form is the RFC 7951 body of `/intentloop-device:device`: one JSON array per list,
member names as in the YANG module, uint16/uint32 as JSON numbers, unset optional leaves left
out. Built from dicts, parsed from dicts: no string templates anywhere, so no value (a
description with quotes, brackets or newlines) can change the structure.

`edits_between` is the gNMI counterpart of a NETCONF edit-config: only what changed, at the
deepest level that expresses it (a changed MTU is one leaf update, not a replaced
interface), so a Set touches nothing it does not mean to. Everything here is pure data;
the adapter turns `Edit`s into protobuf.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    Policer,
    StaticRoute,
    SubInterface,
    Vlan,
    Vrf,
)

MODULE = "intentloop-device"
ROOT = f"/{MODULE}:device"

PathElem = tuple[str, tuple[tuple[str, str], ...]]
GnmiPath = tuple[PathElem, ...]  # relative to /intentloop-device:device
JsonEntry = dict[str, Any]


class GnmiJsonError(ValueError):
    """A device's JSON that intentloop's model cannot represent; the message says where."""


@dataclass(frozen=True)
class Edit:
    """One operation of a SetRequest, at a path below the device container."""

    op: Literal["delete", "replace", "update"]
    path: GnmiPath
    value: Any = None

    def render(self) -> str:
        """One line of a human-readable native diff (JSON-escaped, so one line per edit)."""
        where = path_to_string(self.path)
        if self.op == "delete":
            return f"delete {where}"
        return f"{self.op} {where}: {json.dumps(self.value)}"


@dataclass(frozen=True)
class _ListCodec:
    """How one YANG list maps to one tuple of model items."""

    name: str  # YANG list name
    attr: str  # DeviceConfigTree field
    keys: tuple[str, ...]  # YANG key leaves, in key order
    to_json: Callable[[Any], JsonEntry]
    from_json: Callable[[JsonEntry], BaseModel]


def _owners(item: Any) -> list[str]:
    return sorted(item.owners)


def _optional(**leaves: Any) -> JsonEntry:
    return {k: v for k, v in leaves.items() if v is not None}


def _routes_to_json(vrf: Vrf) -> JsonEntry:
    """A VRF's `static-route` list (left out when empty, as RFC 7951 writes no entries)."""
    routes = [{"prefix": r.prefix, "next-hop": r.next_hop} for r in vrf.static_routes]
    return {"static-route": routes} if routes else {}


_ROUTE_MEMBERS = {"prefix", "next-hop"}


def _routes_from_json(entries: Any) -> tuple[StaticRoute, ...]:
    if not isinstance(entries, list):
        raise GnmiJsonError("static-route: expected a JSON array")
    routes = []
    for index, entry in enumerate(entries):
        where = f"static-route[{index}]"
        if not isinstance(entry, Mapping):
            raise GnmiJsonError(f"{where}: expected a JSON object")
        unknown = sorted(set(entry) - _ROUTE_MEMBERS)
        if unknown:
            raise GnmiJsonError(f"{where}: unknown node {unknown[0]!r}")
        if "prefix" not in entry:
            raise GnmiJsonError(f"{where}: missing key 'prefix'")
        if "next-hop" not in entry:
            raise GnmiJsonError(f"{where}: missing mandatory node 'next-hop'")
        try:
            routes.append(StaticRoute(prefix=entry["prefix"], next_hop=entry["next-hop"]))
        except ValidationError as exc:
            raise GnmiJsonError(f"{where}: {_first_error(exc)}") from exc
    return tuple(routes)


_LISTS: tuple[_ListCodec, ...] = (
    _ListCodec(
        "interface",
        "interfaces",
        ("name",),
        lambda i: {
            "name": i.name,
            "enabled": i.enabled,
            "description": i.description,
            **_optional(mtu=i.mtu),
            "owner": _owners(i),
        },
        lambda d: Interface(
            name=d["name"],
            enabled=d.get("enabled", True),
            description=d.get("description", ""),
            mtu=d.get("mtu"),
            owners=frozenset(d.get("owner", ())),
        ),
    ),
    _ListCodec(
        "vlan",
        "vlans",
        ("vlan-id",),
        lambda v: {"vlan-id": v.vlan_id, "name": v.name, "owner": _owners(v)},
        lambda d: Vlan(
            vlan_id=d["vlan-id"], name=d.get("name", ""), owners=frozenset(d.get("owner", ()))
        ),
    ),
    _ListCodec(
        "policer",
        "policers",
        ("name",),
        lambda p: {
            "name": p.name,
            "rate-mbps": p.rate_mbps,
            "burst-kbytes": p.burst_kbytes,
            "owner": _owners(p),
        },
        lambda d: Policer(
            name=d["name"],
            rate_mbps=d["rate-mbps"],
            burst_kbytes=d.get("burst-kbytes", 1000),
            owners=frozenset(d.get("owner", ())),
        ),
    ),
    _ListCodec(
        "vrf",
        "vrfs",
        ("name",),
        lambda v: {
            "name": v.name,
            "route-target": v.route_target,
            "description": v.description,
            **_routes_to_json(v),
            "owner": _owners(v),
        },
        lambda d: Vrf(
            name=d["name"],
            route_target=d.get("route-target", ""),
            description=d.get("description", ""),
            static_routes=_routes_from_json(d.get("static-route", [])),
            owners=frozenset(d.get("owner", ())),
        ),
    ),
    _ListCodec(
        "subinterface",
        "subinterfaces",
        ("parent", "vlan-id"),
        lambda s: {
            "parent": s.parent,
            "vlan-id": s.vlan_id,
            "description": s.description,
            **_optional(vrf=s.vrf, policer=s.policer),
            **({} if s.l2_instance is None else {"l2-instance": s.l2_instance}),
            **_optional(ipv4=s.ipv4),
            "owner": _owners(s),
        },
        lambda d: SubInterface(
            parent=d["parent"],
            vlan_id=d["vlan-id"],
            description=d.get("description", ""),
            vrf=d.get("vrf"),
            policer=d.get("policer"),
            l2_instance=d.get("l2-instance"),
            ipv4=d.get("ipv4"),
            owners=frozenset(d.get("owner", ())),
        ),
    ),
)
_MEMBERS = {
    "interface": {"name", "enabled", "description", "mtu", "owner"},
    "vlan": {"vlan-id", "name", "owner"},
    "policer": {"name", "rate-mbps", "burst-kbytes", "owner"},
    "vrf": {"name", "route-target", "description", "static-route", "owner"},
    "subinterface": {
        "parent",
        "vlan-id",
        "description",
        "vrf",
        "policer",
        "l2-instance",
        "ipv4",
        "owner",
    },
}


def tree_to_json(tree: DeviceConfigTree) -> dict[str, list[JsonEntry]]:
    """The JSON_IETF body of `/intentloop-device:device` (empty lists left out)."""
    canonical = tree.canonical()
    body: dict[str, list[JsonEntry]] = {}
    for codec in _LISTS:
        items = getattr(canonical, codec.attr)
        if items:
            body[codec.name] = [codec.to_json(item) for item in items]
    return body


def tree_from_json(document: Mapping[str, Any]) -> DeviceConfigTree:
    """Parse a device's JSON_IETF (the container body, or `{"intentloop-device:device": …}`)."""
    body = document.get(f"{MODULE}:device", document)
    if not isinstance(body, Mapping):
        raise GnmiJsonError(f"{ROOT}: expected a JSON object")
    lists: dict[str, tuple[BaseModel, ...]] = {}
    known = {codec.name: codec for codec in _LISTS}
    for member, entries in body.items():
        name = member.removeprefix(f"{MODULE}:")
        codec = known.get(name)
        if codec is None:
            raise GnmiJsonError(f"{ROOT}: unknown node {member!r}")
        if not isinstance(entries, list):
            raise GnmiJsonError(f"{ROOT}/{name}: expected a JSON array")
        lists[codec.attr] = tuple(_entry(codec, i, e) for i, e in enumerate(entries))
    try:
        return DeviceConfigTree.model_validate(lists).canonical()
    except ValidationError as exc:
        raise GnmiJsonError(f"{ROOT}: {_first_error(exc)}") from exc


def _entry(codec: _ListCodec, index: int, entry: Any) -> BaseModel:
    where = f"{ROOT}/{codec.name}[{index}]"
    if not isinstance(entry, Mapping):
        raise GnmiJsonError(f"{where}: expected a JSON object")
    unknown = sorted(set(entry) - _MEMBERS[codec.name])
    if unknown:
        raise GnmiJsonError(f"{where}: unknown node {unknown[0]!r}")
    missing = [k for k in codec.keys if k not in entry]
    if missing:
        raise GnmiJsonError(f"{where}: missing key {missing[0]!r}")
    try:
        return codec.from_json(dict(entry))
    except KeyError as exc:
        raise GnmiJsonError(f"{where}: missing mandatory node {exc.args[0]!r}") from exc
    except ValidationError as exc:
        raise GnmiJsonError(f"{where}: {_first_error(exc)}") from exc
    except GnmiJsonError as exc:
        raise GnmiJsonError(f"{where}/{exc}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {error['msg']}" if location else str(error["msg"])


# --- edits ----------------------------------------------------------------------------------
def entry_path(list_name: str, keys: Sequence[tuple[str, Any]]) -> GnmiPath:
    return ((list_name, tuple((k, _key_text(v)) for k, v in keys)),)


def edits_between(current: DeviceConfigTree, desired: DeviceConfigTree) -> tuple[Edit, ...]:
    """The smallest Set that turns `current` into `desired`: deletes, replaces, updates."""
    deletes: list[Edit] = []
    replaces: list[Edit] = []
    updates: list[Edit] = []
    before, after = tree_to_json(current), tree_to_json(desired)
    for codec in _LISTS:
        old = {_key(codec, e): e for e in before.get(codec.name, [])}
        new = {_key(codec, e): e for e in after.get(codec.name, [])}
        for key in sorted(old.keys() - new.keys()):
            deletes.append(Edit("delete", entry_path(codec.name, key)))
        for key in sorted(new.keys() - old.keys()):
            replaces.append(Edit("replace", entry_path(codec.name, key), new[key]))
        for key in sorted(old.keys() & new.keys()):
            path = entry_path(codec.name, key)
            for leaf in sorted(old[key].keys() | new[key].keys()):
                was, wanted = old[key].get(leaf), new[key].get(leaf)
                leaf_path = (*path, (leaf, ()))
                if was == wanted:
                    continue
                nested_keys = _NESTED.get((codec.name, leaf))
                if nested_keys is not None:
                    edits = _nested_edits(path, leaf, nested_keys, was or [], wanted or [])
                    for edit in edits:
                        {"delete": deletes, "replace": replaces}[edit.op].append(edit)
                elif wanted is None or wanted == []:
                    deletes.append(Edit("delete", leaf_path))
                elif isinstance(wanted, list):
                    replaces.append(Edit("replace", leaf_path, wanted))
                else:
                    updates.append(Edit("update", leaf_path, wanted))
    return (*deletes, *replaces, *updates)


# Lists inside a list's entries, by (list, nested list): their key leaves. Their entries
# are edited one by one, like the top-level lists' entries.
_NESTED: dict[tuple[str, str], tuple[str, ...]] = {("vrf", "static-route"): ("prefix",)}


def _nested_edits(
    path: GnmiPath,
    name: str,
    keys: tuple[str, ...],
    old: list[JsonEntry],
    new: list[JsonEntry],
) -> list[Edit]:
    """Entries of a nested list that went (delete) or are new or changed (replace)."""
    before = {tuple((k, e[k]) for k in keys): e for e in old}
    after = {tuple((k, e[k]) for k in keys): e for e in new}
    edits = []
    for key in sorted(before.keys() - after.keys()):
        edits.append(Edit("delete", (*path, *entry_path(name, key))))
    for key in sorted(after):
        if before.get(key) != after[key]:
            edits.append(Edit("replace", (*path, *entry_path(name, key)), after[key]))
    return edits


def render_edits(edits: Sequence[Edit]) -> str:
    """The native diff shown to people: one line per edit, '' when nothing changes."""
    return "\n".join(edit.render() for edit in edits)


def path_to_string(path: GnmiPath) -> str:
    """gNMI's string form, with `]` and `\\` in key values escaped so paths stay unambiguous."""
    parts = [ROOT]
    for name, keys in path:
        parts.append(name + "".join(f"[{k}={_escape(v)}]" for k, v in keys))
    return "/".join(parts)


def _key(codec: _ListCodec, entry: JsonEntry) -> tuple[tuple[str, Any], ...]:
    return tuple((k, entry[k]) for k in codec.keys)


def _key_text(value: Any) -> str:
    return str(value) if not isinstance(value, bool) else str(value).lower()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("]", "\\]")
