"""The smallest gNMI Set between two OpenConfig documents, as data (`gnmi_json.Edit`).

The same rules as the `intentloop-device` profile: a list entry that appears is one
`replace` of the whole entry, one that goes is one `delete`, a changed leaf is one `update`
(a leaf-list one `replace`), a container that appears one `update` with its body. Paths are
absolute OpenConfig paths without module prefixes (`/interfaces/interface[name=eth1]/config/mtu`);
values are RFC 7951 bodies of the node at the path. Both documents come from
`openconfig.render`, so this diffs only what intentloop manages on the device, and
containers are never deleted (they hold the device's own configuration too): only the
list entries and leaves that intentloop put there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from intentloop_intents.device.gnmi_json import Edit, GnmiPath, PathElem

# Keys of every OpenConfig list the profile writes, by schema path (names without prefixes).
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "interfaces/interface": ("name",),
    "interfaces/interface/subinterfaces/subinterface": ("index",),
    "interfaces/interface/subinterfaces/subinterface/ipv4/addresses/address": ("ip",),
    "network-instances/network-instance": ("name",),
    "network-instances/network-instance/interfaces/interface": ("id",),
    "network-instances/network-instance/protocols/protocol": ("identifier", "name"),
    "network-instances/network-instance/protocols/protocol/static-routes/static": ("prefix",),
    "network-instances/network-instance/protocols/protocol/static-routes/static/next-hops/"
    "next-hop": ("index",),
    "network-instances/network-instance/vlans/vlan": ("vlan-id",),
    "qos/scheduler-policies/scheduler-policy": ("name",),
    "qos/scheduler-policies/scheduler-policy/schedulers/scheduler": ("sequence",),
    "qos/interfaces/interface": ("interface-id",),
    "routing-policy/defined-sets/bgp-defined-sets/ext-community-sets/ext-community-set": (
        "ext-community-set-name",
    ),
}


def local(name: str) -> str:
    """A member name without its module prefix (`openconfig-vlan:vlan` → `vlan`)."""
    return name.rpartition(":")[2]


def edits_between(current: Mapping[str, Any], desired: Mapping[str, Any]) -> tuple[Edit, ...]:
    """Deletes, then replaces, then updates (the order gNMI applies them in)."""
    out: dict[str, list[Edit]] = {"delete": [], "replace": [], "update": []}
    _container(current, desired, (), "", out)
    return (*out["delete"], *out["replace"], *out["update"])


def _container(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    path: GnmiPath,
    schema: str,
    out: dict[str, list[Edit]],
) -> None:
    old_by, new_by = _by_local(old), _by_local(new)
    for name in sorted(old_by.keys() | new_by.keys()):
        here: GnmiPath = (*path, (name, ()))
        where = f"{schema}/{name}" if schema else name
        was, wanted = old_by.get(name), new_by.get(name)
        if wanted is None:
            # Containers are shared with the device's own configuration (a real router has
            # more under /interfaces and /qos): remove only entries and leaves of ours.
            if isinstance(was, Mapping):
                _container(was, {}, here, where, out)
            elif isinstance(was, list) and where in LIST_KEYS:
                _list(was, [], path, name, where, out)
            else:
                out["delete"].append(Edit("delete", here))
        elif was is None:
            if isinstance(wanted, list) and where in LIST_KEYS:
                _list([], wanted, path, name, where, out)
            else:
                out[_op(wanted)].append(Edit(_op(wanted), here, wanted))
        elif isinstance(wanted, Mapping) and isinstance(was, Mapping):
            _container(was, wanted, here, where, out)
        elif isinstance(wanted, list) and where in LIST_KEYS and isinstance(was, list):
            _list(was, wanted, path, name, where, out)
        elif was != wanted:
            out[_op(wanted)].append(Edit(_op(wanted), here, wanted))


def _op(value: Any) -> Literal["replace", "update"]:
    """A leaf-list is replaced as a whole; a leaf is updated; a new container is merged."""
    return "replace" if isinstance(value, list) else "update"


def _list(
    old: Sequence[Any],
    new: Sequence[Any],
    path: GnmiPath,
    name: str,
    schema: str,
    out: dict[str, list[Edit]],
) -> None:
    keys = LIST_KEYS[schema]
    before = {_key(keys, e): e for e in old}
    after = {_key(keys, e): e for e in new}
    for key in sorted(before.keys() | after.keys()):
        here: GnmiPath = (*path, _elem(name, keys, key))
        if key not in after:
            out["delete"].append(Edit("delete", here))
        elif key not in before:
            out["replace"].append(Edit("replace", here, after[key]))
        else:
            _container(before[key], after[key], here, schema, out)


def normalise(node: Any, schema: str = "") -> Any:
    """`node` with member prefixes dropped and list entries sorted by key, so two documents
    holding the same configuration compare equal whatever order a device answers in."""
    if isinstance(node, Mapping):
        out = {}
        for name, value in node.items():
            short = local(name)
            out[short] = normalise(value, f"{schema}/{short}" if schema else short)
        return out
    if isinstance(node, list) and schema in LIST_KEYS:
        keys = LIST_KEYS[schema]
        entries = [normalise(e, schema) for e in node if isinstance(e, Mapping)]
        return sorted(entries, key=lambda e: tuple(_text(e.get(k)) for k in keys))
    return node


def _by_local(node: Mapping[str, Any]) -> dict[str, Any]:
    return {local(k): v for k, v in node.items()}


def _key(keys: tuple[str, ...], entry: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_text(entry[k]) for k in keys)


def _elem(name: str, keys: tuple[str, ...], values: tuple[str, ...]) -> PathElem:
    return (name, tuple(zip(keys, values, strict=True)))


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def path_to_string(path: GnmiPath) -> str:
    """`/interfaces/interface[name=eth1]/config/mtu`, `]` and `\\` in keys escaped."""
    parts = [name + "".join(f"[{k}={_escape(v)}]" for k, v in keys) for name, keys in path]
    return "/" + "/".join(parts)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("]", "\\]")


def render_edits(edits: Sequence[Edit]) -> str:
    """The native diff people read: one line per edit, '' when nothing changes."""
    lines = []
    for edit in edits:
        where = path_to_string(edit.path)
        if edit.op == "delete":
            lines.append(f"delete {where}")
        else:
            lines.append(f"{edit.op} {where}: {json.dumps(edit.value, sort_keys=True)}")
    return "\n".join(lines)
