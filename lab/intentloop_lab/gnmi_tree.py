"""The configuration a lab gNMI target stores, and gNMI's replace/update/delete on it.

A Set must be atomic (all of its operations apply or none), so the target applies a
SetRequest to a copy of the tree, validates the copy as a whole (mandatory leaves only make
sense once every operation is in) and swaps it in. Paths are relative to the
`/intentloop-device:device` container and may address the container, a list, a list entry
or one leaf of an entry; that is every level a controller needs for minimal edits.

A list inside an entry (a VRF's `static-route`) is stored in the entry as its JSON array
and addressed below the entry: the nested list, one of its entries by key, or one leaf.

Entries store what was written; YANG defaults (`enabled`, `burst-kbytes`) are filled in when
the tree is read, as a device reporting with-defaults "report-all" does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from intentloop_lab.gnmi_schema import (
    DEVICE_LISTS,
    JsonEntry,
    ListSchema,
    SchemaError,
    check_complete,
    check_entry,
    check_leaf,
    check_list,
    parse_key,
)

ROOT = "/intentloop-device:device"
PathElems = Sequence[tuple[str, Mapping[str, str]]]
EntryKey = tuple[bool | int | str, ...]
EntryPath = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


class PathError(LookupError):
    """A path that names no node of the module (NOT_FOUND on read, refused on write)."""


class ConfigTree:
    """Entries by list name and typed key."""

    def __init__(self) -> None:
        self._lists: dict[str, dict[EntryKey, JsonEntry]] = {name: {} for name in DEVICE_LISTS}

    def copy(self) -> ConfigTree:
        clone = ConfigTree()
        clone._lists = copy.deepcopy(self._lists)
        return clone

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigTree) and self._lists == other._lists

    __hash__ = None  # type: ignore[assignment]  # mutable

    # --- reading ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The container's JSON_IETF body; lists without entries are left out (RFC 7951)."""
        body: dict[str, Any] = {}
        for name, entries in self._lists.items():
            if entries:
                schema = DEVICE_LISTS[name]
                body[name] = [_render(schema, entries[key]) for key in sorted(entries, key=_order)]
        return body

    def read(self, elems: PathElems) -> Any:
        """The JSON value at `elems`; PathError when nothing is there."""
        if _nested_path(elems):
            return self._read_nested(elems)
        schema, key, leaf = _locate(elems)
        if schema is None:
            return self.to_json()
        entries = self._lists[schema.name]
        if key is None:
            return [_render(schema, entries[k]) for k in sorted(entries, key=_order)]
        if key not in entries:
            raise PathError(f"{_where(elems)}: no such entry")
        rendered = _render(schema, entries[key])
        if leaf is None:
            return rendered
        if leaf not in rendered:
            raise PathError(f"{_where(elems)}: not set")
        return rendered[leaf]

    def entries(self) -> list[tuple[EntryPath, dict[str, Any]]]:
        """Every entry with its gNMI path below the container (for subscription snapshots)."""
        return [
            (_entry_path(DEVICE_LISTS[name], key), _render(DEVICE_LISTS[name], entry))
            for name, entries in self._lists.items()
            for key, entry in sorted(entries.items(), key=lambda item: _order(item[0]))
        ]

    def changes_to(self, other: ConfigTree) -> list[tuple[EntryPath, dict[str, Any] | None]]:
        """The entries `other` adds, changes (new value) or removes (None) relative to self."""
        changes: list[tuple[EntryPath, dict[str, Any] | None]] = []
        for name, schema in DEVICE_LISTS.items():
            old, new = self._lists[name], other._lists[name]
            for key in sorted(old.keys() | new.keys(), key=_order):
                if old.get(key) != new.get(key):
                    value = _render(schema, new[key]) if key in new else None
                    changes.append((_entry_path(schema, key), value))
        return changes

    # --- writing ------------------------------------------------------------------------
    def delete(self, elems: PathElems) -> None:
        """Remove the node at `elems`; deleting what is not there is not an error (gNMI)."""
        if _nested_path(elems):
            self._delete_nested(elems)
            return
        schema, key, leaf = _locate(elems)
        if schema is None:
            for entries in self._lists.values():
                entries.clear()
            return
        entries = self._lists[schema.name]
        if key is None:
            entries.clear()
        elif leaf is None:
            entries.pop(key, None)
        elif leaf in schema.keys:
            raise SchemaError(f"{_where(elems)}: a list key cannot be deleted")
        elif key in entries:
            entries[key].pop(leaf, None)

    def write(self, elems: PathElems, value: object, *, replace: bool) -> None:
        """gNMI replace (`replace=True`: the node becomes `value`) or update (merge)."""
        where = _where(elems)
        if _nested_path(elems):
            self._write_nested(elems, value, replace=replace)
            return
        schema, key, leaf = _locate(elems)
        if schema is None:
            self._write_container(where, value, replace=replace)
        elif key is None:
            self._write_list(where, schema, value, replace=replace)
        elif leaf is None:
            self._write_entry(where, schema, key, value, replace=replace)
        else:
            typed = check_leaf(where, schema.leaves[leaf], value)
            entry = self._lists[schema.name].setdefault(key, _key_members(schema, key))
            if leaf in schema.keys and typed != entry[leaf]:
                raise SchemaError(f"{where}: a list key cannot be changed")
            entry[leaf] = typed

    def validate(self) -> None:
        """Checks that need the whole edit applied: keys and mandatory leaves present."""
        for name, entries in self._lists.items():
            schema = DEVICE_LISTS[name]
            for key, entry in entries.items():
                check_complete(_entry_where(schema, key), schema, entry)

    def _write_container(self, where: str, value: object, *, replace: bool) -> None:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected a JSON object")
        unknown = [m for m in value if m not in DEVICE_LISTS]
        if unknown:
            raise SchemaError(f"{where}: unknown node {unknown[0]!r}")
        if replace:
            for entries in self._lists.values():
                entries.clear()
        for name, items in value.items():
            self._write_list(f"{where}/{name}", DEVICE_LISTS[name], items, replace=False)

    def _write_list(self, where: str, schema: ListSchema, value: object, *, replace: bool) -> None:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: a list takes a JSON array")
        if replace:
            self._lists[schema.name].clear()
        seen: set[EntryKey] = set()
        for index, item in enumerate(value):
            checked = check_entry(f"{where}[{index}]", schema, item)
            missing = [k for k in schema.keys if k not in checked]
            if missing:
                raise SchemaError(f"{where}[{index}]/{missing[0]}: missing list key")
            key = _key_of(schema, checked)
            if key in seen:
                raise SchemaError(f"{where}[{index}]: duplicate entry for key {key!r}")
            seen.add(key)
            self._merge(schema, key, checked, replace=False)

    def _write_entry(
        self, where: str, schema: ListSchema, key: EntryKey, value: object, *, replace: bool
    ) -> None:
        checked = check_entry(where, schema, value)
        for name, typed in zip(schema.keys, key, strict=True):
            if name in checked and checked[name] != typed:
                raise SchemaError(f"{where}/{name}: differs from the key in the path")
        self._merge(schema, key, checked, replace=replace)

    def _merge(
        self, schema: ListSchema, key: EntryKey, leaves: JsonEntry, *, replace: bool
    ) -> None:
        entries = self._lists[schema.name]
        base = _key_members(schema, key) if replace else entries.get(key, _key_members(schema, key))
        for name, value in leaves.items():
            nested = schema.lists.get(name)
            if nested is not None and not replace and isinstance(value, list):
                _merge_entries(nested, _children(base, name, create=True), value)  # merge by key
            else:
                base[name] = value
        _drop_empty(schema, base)
        entries[key] = base

    # --- lists inside entries ---------------------------------------------------------------
    def _nested(
        self, elems: PathElems, *, create: bool
    ) -> tuple[ListSchema, JsonEntry | None, str, EntryKey | None, str | None]:
        """(nested list schema, parent entry, nested list name, nested key, leaf)."""
        where = _where(elems)
        schema, key, _ = _locate(elems[:1])
        name, keys = elems[1]
        assert schema is not None and key is not None
        nested = schema.lists[name]
        entries = self._lists[schema.name]
        parent = entries.get(key)
        if parent is None and create:
            parent = entries[key] = _key_members(schema, key)
        nested_key = parse_key(where, nested, keys) if keys else None
        leaf: str | None = None
        if len(elems) == 3:
            leaf, leaf_keys = elems[2]
            if nested_key is None:
                raise PathError(f"{where}: a leaf needs its list entry's keys")
            if leaf not in nested.leaves or leaf_keys:
                raise PathError(f"{where}: no such node in {nested.name!r}")
        return nested, parent, name, nested_key, leaf

    def _read_nested(self, elems: PathElems) -> Any:
        nested, parent, name, key, leaf = self._nested(elems, create=False)
        if parent is None:
            raise PathError(f"{_where(elems)}: no such entry")
        children = _children(parent, name)
        if key is None:
            return [_render(nested, c) for c in sorted(children, key=_child_order(nested))]
        child = _find(nested, children, key)
        if child is None:
            raise PathError(f"{_where(elems)}: no such entry")
        rendered = _render(nested, child)
        if leaf is None:
            return rendered
        if leaf not in rendered:
            raise PathError(f"{_where(elems)}: not set")
        return rendered[leaf]

    def _delete_nested(self, elems: PathElems) -> None:
        nested, parent, name, key, leaf = self._nested(elems, create=False)
        if parent is None:
            return
        if key is None:
            parent.pop(name, None)
            return
        children = _children(parent, name)
        if leaf is None:
            parent[name] = [c for c in children if _child_key(nested, c) != key]
        elif leaf in nested.keys:
            raise SchemaError(f"{_where(elems)}: a list key cannot be deleted")
        else:
            child = _find(nested, children, key)
            if child is not None:
                child.pop(leaf, None)
        _drop_empty(_schema_of(elems), parent)

    def _write_nested(self, elems: PathElems, value: object, *, replace: bool) -> None:
        where = _where(elems)
        nested, parent, name, key, leaf = self._nested(elems, create=True)
        assert parent is not None
        if key is None:
            checked = check_list(where, nested, value)
            if replace:
                parent[name] = checked
            else:
                _merge_entries(nested, _children(parent, name, create=True), checked)
            _drop_empty(_schema_of(elems), parent)
            return
        if leaf is None:
            entry = check_entry(where, nested, value)
            for k, typed in zip(nested.keys, key, strict=True):
                if k in entry and entry[k] != typed:
                    raise SchemaError(f"{where}/{k}: differs from the key in the path")
            entry = {**_key_members(nested, key), **entry}
        else:
            typed_leaf = check_leaf(where, nested.leaves[leaf], value)
            if leaf in nested.keys and typed_leaf != key[nested.keys.index(leaf)]:
                raise SchemaError(f"{where}: a list key cannot be changed")
            entry = {**_key_members(nested, key), leaf: typed_leaf}
        children = _children(parent, name, create=True)
        _merge_entries(nested, children, [entry], replace=replace and not leaf)


def _locate(elems: PathElems) -> tuple[ListSchema | None, EntryKey | None, str | None]:
    """(list schema, entry key, leaf) addressed by `elems`; None for levels above."""
    where = _where(elems)
    if not elems:
        return None, None, None
    name, keys = elems[0]
    schema = DEVICE_LISTS.get(name)
    if schema is None or len(elems) > 2:
        raise PathError(f"{where}: no such node in intentloop-device")
    if not keys:
        if len(elems) > 1:
            raise PathError(f"{where}: a leaf needs its list entry's keys")
        return schema, None, None
    key = parse_key(where, schema, keys)
    if len(elems) == 1:
        return schema, key, None
    leaf, leaf_keys = elems[1]
    if leaf not in schema.leaves or leaf_keys:
        raise PathError(f"{where}: no such node in {schema.name!r}")
    return schema, key, leaf


def _render(schema: ListSchema, entry: JsonEntry) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for name, leaf in schema.leaves.items():
        if name in entry:
            value = entry[name]
            rendered[name] = list(value) if isinstance(value, list) else value
        elif leaf.default is not None:
            rendered[name] = leaf.default
    for name, nested in schema.lists.items():
        children = _children(entry, name)
        if children:
            ordered = sorted(children, key=_child_order(nested))
            rendered[name] = [_render(nested, child) for child in ordered]
    return rendered


def _schema_of(elems: PathElems) -> ListSchema:
    """The top-level list a path starts in (known to exist)."""
    return DEVICE_LISTS[elems[0][0]]


def _nested_path(elems: PathElems) -> bool:
    """A path below an entry into one of its nested lists (`vrf[name=x]/static-route…`)."""
    if len(elems) < 2 or not elems[0][1]:
        return False
    schema = DEVICE_LISTS.get(elems[0][0])
    if schema is None or elems[1][0] not in schema.lists:
        return False
    if len(elems) > 3:
        raise PathError(f"{_where(elems)}: no such node in intentloop-device")
    return True


def _children(entry: JsonEntry, name: str, *, create: bool = False) -> list[Any]:
    """The nested list `name` of `entry` (with `create`, put in it empty when absent)."""
    children = entry.get(name)
    if isinstance(children, list):
        return children
    if not create:
        return []
    children = entry[name] = []
    return children


def _drop_empty(schema: ListSchema, entry: JsonEntry) -> None:
    """A list without entries is not stored (RFC 7951 writes no empty list)."""
    for name in schema.lists:
        if name in entry and not entry[name]:
            del entry[name]


def _child_key(schema: ListSchema, child: JsonEntry) -> EntryKey:
    return tuple(v for v in (child.get(k) for k in schema.keys) if isinstance(v, bool | int | str))


def _child_order(schema: ListSchema) -> Any:
    return lambda child: _order(_child_key(schema, child))


def _find(schema: ListSchema, children: list[Any], key: EntryKey) -> JsonEntry | None:
    return next((c for c in children if _child_key(schema, c) == key), None)


def _merge_entries(
    schema: ListSchema, children: list[Any], entries: list[JsonEntry], *, replace: bool = False
) -> None:
    """gNMI update of nested entries: each merges into the entry of its key (or is added);
    with `replace` it takes that entry's place whole."""
    for entry in entries:
        current = _find(schema, children, _child_key(schema, entry))
        if current is None:
            children.append(dict(entry))
        elif replace:
            current.clear()
            current.update(entry)
        else:
            current.update(entry)


def _key_of(schema: ListSchema, entry: JsonEntry) -> EntryKey:
    values = [entry[k] for k in schema.keys]
    return tuple(v for v in values if not isinstance(v, list))


def _key_members(schema: ListSchema, key: EntryKey) -> JsonEntry:
    return dict(zip(schema.keys, key, strict=True))


def _order(key: EntryKey) -> tuple[str, ...]:
    return tuple(f"{v:010d}" if isinstance(v, int) else str(v) for v in key)


def _entry_path(schema: ListSchema, key: EntryKey) -> EntryPath:
    keys = sorted((k, str(v)) for k, v in zip(schema.keys, key, strict=True))
    return ((schema.name, tuple(keys)),)


def _entry_where(schema: ListSchema, key: EntryKey) -> str:
    keys = "".join(f"[{k}={v}]" for k, v in zip(schema.keys, key, strict=True))
    return f"{ROOT}/{schema.name}{keys}"


def _where(elems: PathElems) -> str:
    parts = [ROOT]
    for name, keys in elems:
        parts.append(name + "".join(f"[{k}={v}]" for k, v in sorted(keys.items())))
    return "/".join(parts)
