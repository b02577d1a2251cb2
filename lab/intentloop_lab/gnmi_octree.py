"""The configuration an OpenConfig lab router stores: one RFC 7951 document, gNMI edits on it.

The same interface as `gnmi_tree.ConfigTree` (the `intentloop-device` store), so the target
applies a SetRequest to a copy, validates the copy as a whole and swaps it in. Nothing here
knows OpenConfig's schema: paths are walked generically (a member by name, with or
without its module prefix; a list entry by its keys) and the whole candidate is validated by
a third-party validator (`ocvalidator`: ygot's generated OpenConfig schema), as a router
validates a commit against its YANG. What it refuses becomes a SchemaError naming the node.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from intentloop_intents.device.openconfig_edits import LIST_KEYS, local
from intentloop_lab.gnmi_schema import SchemaError
from intentloop_lab.gnmi_state import LeafPath
from intentloop_lab.gnmi_tree import EntryPath, PathElems, PathError
from intentloop_lab.ocvalidator import OcValidator

# The top-level containers served, by their path name, with their RFC 7951 member names.
TOP_LEVEL = {
    "interfaces": "openconfig-interfaces:interfaces",
    "network-instances": "openconfig-network-instance:network-instances",
    "qos": "openconfig-qos:qos",
    "routing-policy": "openconfig-routing-policy:routing-policy",
}


def openconfig_config_elems(origin: str, elems: LeafPath) -> PathElems | None:
    """A configuration path of an OpenConfig router (origin "" or "openconfig", below a
    served top-level container, not under a `state` container), else None (state)."""
    if origin not in ("", "openconfig") or not elems:
        return None
    if local(elems[0][0]) not in TOP_LEVEL or any(name == "state" for name, _ in elems):
        return None
    return [(name, dict(keys)) for name, keys in elems]


class OpenConfigTree:
    def __init__(self, validator: OcValidator) -> None:
        self._validator = validator
        self._doc: dict[str, Any] = {}

    def copy(self) -> OpenConfigTree:
        clone = OpenConfigTree(self._validator)
        clone._doc = copy.deepcopy(self._doc)
        return clone

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpenConfigTree) and self._doc == other._doc

    __hash__ = None  # type: ignore[assignment]  # mutable

    # --- reading ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The whole document, top-level containers with nothing in them left out."""
        return {k: copy.deepcopy(v) for k, v in self._doc.items() if v}

    def read(self, elems: PathElems) -> Any:
        if not elems:
            return self.to_json()
        node = self._walk(elems)
        if node is None:
            if len(elems) == 1:
                return {}  # a served top-level container with nothing configured in it
            raise PathError(f"{_where(elems)}: not set")
        return copy.deepcopy(node)

    def entries(self) -> list[tuple[EntryPath, dict[str, Any]]]:
        return [(((_path_name(k), ()),), copy.deepcopy(v)) for k, v in sorted(self._doc.items())]

    def changes_to(self, other: OpenConfigTree) -> list[tuple[EntryPath, dict[str, Any] | None]]:
        out: list[tuple[EntryPath, dict[str, Any] | None]] = []
        for name in sorted(self._doc.keys() | other._doc.keys()):
            if self._doc.get(name) != other._doc.get(name):
                value = other._doc.get(name)
                out.append((((_path_name(name), ()),), copy.deepcopy(value)))
        return out

    # --- writing ------------------------------------------------------------------------
    def delete(self, elems: PathElems) -> None:
        if not elems:
            self._doc.clear()
            return
        parent = self._walk(elems[:-1]) if len(elems) > 1 else self._doc
        if not isinstance(parent, dict):
            return  # deleting what is not there is not an error (gNMI)
        name, keys = elems[-1]
        member = _member_name(parent, name, top=len(elems) == 1)
        if not keys:
            parent.pop(member, None)
            return
        entries = parent.get(member)
        if isinstance(entries, list):
            parent[member] = [e for e in entries if not _matches(e, keys)]

    def write(self, elems: PathElems, value: object, *, replace: bool) -> None:
        where = _where(elems)
        if not elems:
            if not isinstance(value, Mapping):
                raise SchemaError(f"{where}: expected a JSON object of top-level containers")
            if replace:
                self._doc.clear()
            for member, body in value.items():
                top = _top_member(member, where)
                self._set(self._doc, top, body, replace=replace, schema=local(top))
            return
        parent = self._doc
        for depth, (name, keys) in enumerate(elems[:-1]):
            parent = self._child(parent, name, keys, top=depth == 0, create=True, where=where)
        name, keys = elems[-1]
        member = _member_name(parent, name, top=len(elems) == 1)
        if len(elems) == 1 and member not in TOP_LEVEL.values():
            raise PathError(f"{where}: no such top-level container in this router's models")
        if not keys:
            self._set(parent, member, value, replace=replace, schema=_schema(elems))
            return
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: a list entry takes a JSON object")
        entry = self._child(parent, name, keys, top=False, create=True, where=where)
        for key, text in keys.items():
            if key in value and _text(value[key]) != text:
                raise SchemaError(f"{where}/{key}: differs from the key in the path")
        if replace:
            kept = {k: entry[k] for k in keys if k in entry}
            entry.clear()
            entry.update(kept)
        _merge(entry, value, _schema(elems))

    def validate(self, previous: OpenConfigTree | None = None) -> None:
        """The candidate through the third-party validator: what changed since `previous`
        (every added or changed node with the keys of the entries above it), or all of it.

        Sending only the change keeps a Set's cost proportional to the change rather than
        to the router's size (ygot's unmarshal grows faster than linearly: ~2 s for a
        400-service document here); it is equivalent because what the validator checks
        (types, ranges, patterns, unknown nodes, keys) is local to each node."""
        document = {k: v for k, v in self._doc.items() if v}  # read only: no copies
        if previous is not None:
            document = _changed(previous._doc, document, "") or {}
        if not document:
            return
        error = self._validator.check(document)
        if error is not None:
            raise SchemaError(f"OpenConfig validation failed: {error}")

    # --- helpers ------------------------------------------------------------------------
    def _walk(self, elems: PathElems) -> Any:
        node: Any = self._doc
        for depth, (name, keys) in enumerate(elems):
            if not isinstance(node, dict):
                return None
            node = node.get(_member_name(node, name, top=depth == 0))
            if keys:
                found = [e for e in node or () if isinstance(e, dict) and _matches(e, keys)]
                node = found[0] if found else None
            if node is None:
                return None
        return node

    def _child(
        self,
        parent: dict[str, Any],
        name: str,
        keys: Mapping[str, str],
        *,
        top: bool,
        create: bool,
        where: str,
    ) -> dict[str, Any]:
        member = _member_name(parent, name, top=top)
        if top and member not in TOP_LEVEL.values():
            raise PathError(f"{where}: no such top-level container in this router's models")
        node = parent.get(member)
        if not keys:
            if not isinstance(node, dict):
                node = parent[member] = {}
            return node
        if "*" in keys.values():
            raise SchemaError(f"{where}: wildcards are not allowed in a Set path")
        entries = parent.setdefault(member, [])
        if not isinstance(entries, list):
            raise SchemaError(f"{where}: {name} is not a list")
        for entry in entries:
            if isinstance(entry, dict) and _matches(entry, keys):
                return entry
        entry = dict(_typed_keys(keys))
        entries.append(entry)
        return entry

    def _set(
        self, parent: dict[str, Any], member: str, value: object, *, replace: bool, schema: str
    ) -> None:
        current = parent.get(member)
        if not replace and isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value, schema)
        else:
            parent[member] = copy.deepcopy(value)


def _merge(target: dict[str, Any], value: Mapping[str, Any], schema: str) -> None:
    """gNMI update: containers merge, list entries merge by their keys, leaves are set.
    `schema` is the target's schema path (names without prefixes, no keys)."""
    for name, new in value.items():
        old = target.get(name)
        where = f"{schema}/{local(name)}" if schema else local(name)
        keys = LIST_KEYS.get(where)
        if isinstance(old, dict) and isinstance(new, Mapping):
            _merge(old, new, where)
        elif isinstance(old, list) and isinstance(new, list) and keys:
            for entry in new:
                if not isinstance(entry, Mapping):
                    raise SchemaError(f"/{where}: a list entry takes a JSON object")
                match = [
                    e for e in old if all(_text(e.get(k)) == _text(entry.get(k)) for k in keys)
                ]
                if match:
                    _merge(match[0], entry, where)
                else:
                    old.append(copy.deepcopy(dict(entry)))
        else:
            target[name] = copy.deepcopy(new)


def _changed(old: Any, new: Any, schema: str) -> Any:
    """The part of `new` that differs from `old` (None: nothing), list entries keeping
    their key leaves so each changed node stays addressable."""
    if old == new:
        return None
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = {}
        for name, value in new.items():
            where = f"{schema}/{local(name)}" if schema else local(name)
            part = _changed(old.get(name), value, where)
            if part is not None:
                out[name] = part
        return out or None
    keys = LIST_KEYS.get(schema)
    if keys and isinstance(old, list) and isinstance(new, list):
        before = {_entry_key(keys, e): e for e in old if isinstance(e, Mapping)}
        entries = []
        for entry in new:
            if not isinstance(entry, Mapping):
                return new  # malformed: let the validator see all of it
            part = _changed(before.get(_entry_key(keys, entry)), entry, schema)
            if part is not None:
                entries.append({**{k: entry[k] for k in keys if k in entry}, **part})
        return entries or None
    return new


def _entry_key(keys: tuple[str, ...], entry: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_text(entry.get(k)) for k in keys)


def _schema(elems: PathElems) -> str:
    return "/".join(local(name) for name, _ in elems)


def _member_name(node: Mapping[str, Any], name: str, *, top: bool) -> str:
    if top:
        return TOP_LEVEL.get(local(name), name)
    if name in node:
        return name
    for key in node:
        if local(key) == local(name):
            return key
    return name


def _top_member(member: str, where: str) -> str:
    qualified = TOP_LEVEL.get(local(member))
    if qualified is None or (":" in member and member != qualified):
        raise SchemaError(f"{where}: unknown top-level node {member!r}")
    return qualified


def _path_name(member: str) -> str:
    return local(member)


def _matches(entry: Mapping[str, Any], keys: Mapping[str, str]) -> bool:
    return all(k in entry and _text(entry[k]) == v for k, v in keys.items())


def _typed_keys(keys: Mapping[str, str]) -> dict[str, Any]:
    """Key leaves as RFC 7951 writes them: integers as numbers (indexes, VLAN ids)."""
    return {k: int(v) if v.isdecimal() and v.isascii() else v for k, v in keys.items()}


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _where(elems: PathElems) -> str:
    parts = [name + "".join(f"[{k}={v}]" for k, v in sorted(keys.items())) for name, keys in elems]
    return "/" + "/".join(parts)
