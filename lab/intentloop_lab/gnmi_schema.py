"""The `intentloop-device` YANG module as data, so the gNMI target validates like netconfd.

netconfd validates the NETCONF side from `yang/intentloop-device@2026-11-01.yang` itself;
the lab's gNMI target has no YANG engine, so this table restates the module's types,
ranges, lengths, defaults and mandatory leaves. Both protocols must refuse the same values,
otherwise a change that works on one kind of router fails on the other. A unit test compares
this table with the YANG file so the two cannot drift apart silently.

Values are checked as RFC 7951 (JSON_IETF) encodes them: uint16/uint32 are JSON numbers,
booleans are JSON `true`/`false`, strings are strings made of XML characters (YANG strings
must be representable in XML, so NUL and most control characters are refused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

LeafKind = Literal["string", "boolean", "uint16", "uint32"]
_NON_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_UINT_MAX = {"uint16": 65535, "uint32": 4294967295}


class SchemaError(ValueError):
    """A value the YANG module refuses; the message names the offending node."""


@dataclass(frozen=True)
class Leaf:
    kind: LeafKind
    low: int | None = None  # range (integers) or minimum length (strings)
    high: int | None = None  # range (integers) or maximum length (strings)
    default: bool | int | str | None = None
    mandatory: bool = False
    leaf_list: bool = False
    pattern: str | None = None  # YANG pattern (XSD regex, anchored), as Python `re`


@dataclass(frozen=True)
class ListSchema:
    name: str
    keys: tuple[str, ...]
    leaves: Mapping[str, Leaf]
    # lists inside each entry (a VRF's static routes), by name; stored in the entry as a
    # JSON array of entries, as RFC 7951 writes them
    lists: Mapping[str, ListSchema] = field(default_factory=dict)


_OWNER = Leaf("string", 1, 253, leaf_list=True)
_DESCRIPTION = Leaf("string", 0, 240)
_NAME64 = Leaf("string", 1, 64)
_VLAN_ID = Leaf("uint16", 1, 4094)
# The module's ipv4-address / ipv4-address-and-length / ipv4-prefix patterns.
_OCTET = r"([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}"
_LENGTH = r"/(([0-9])|([1-2][0-9])|(3[0-2]))"
_IPV4_ADDRESS = Leaf("string", pattern=_IPV4)
_IPV4_WITH_LENGTH = Leaf("string", pattern=_IPV4 + _LENGTH)

DEVICE_LISTS: Mapping[str, ListSchema] = {
    "interface": ListSchema(
        "interface",
        ("name",),
        {
            "name": _NAME64,
            "enabled": Leaf("boolean", default=True),
            "description": _DESCRIPTION,
            "mtu": Leaf("uint16", 68, 9216),
            "owner": _OWNER,
        },
    ),
    "vlan": ListSchema(
        "vlan",
        ("vlan-id",),
        {"vlan-id": _VLAN_ID, "name": Leaf("string", 0, 64), "owner": _OWNER},
    ),
    "policer": ListSchema(
        "policer",
        ("name",),
        {
            "name": _NAME64,
            "rate-mbps": Leaf("uint32", 1, 400000, mandatory=True),
            "burst-kbytes": Leaf("uint32", 1, 1000000, default=1000),
            "owner": _OWNER,
        },
    ),
    "vrf": ListSchema(
        "vrf",
        ("name",),
        {
            "name": _NAME64,
            "route-target": Leaf("string", 0, 64),
            "description": _DESCRIPTION,
            "owner": _OWNER,
        },
        lists={
            "static-route": ListSchema(
                "static-route",
                ("prefix",),
                {
                    "prefix": _IPV4_WITH_LENGTH,
                    "next-hop": Leaf("string", mandatory=True, pattern=_IPV4),
                },
            )
        },
    ),
    "subinterface": ListSchema(
        "subinterface",
        ("parent", "vlan-id"),
        {
            "parent": _NAME64,
            "vlan-id": _VLAN_ID,
            "description": _DESCRIPTION,
            "vrf": _NAME64,
            "policer": _NAME64,
            "l2-instance": _NAME64,
            "ipv4": _IPV4_WITH_LENGTH,
            "owner": _OWNER,
        },
    ),
}

JsonLeafValue = bool | int | str
JsonEntry = dict[str, JsonLeafValue | list[Any]]  # list[str] a leaf-list, else a nested list


def check_leaf(where: str, leaf: Leaf, value: object) -> JsonLeafValue | list[str]:
    """`value` as the module allows it at `where`, or SchemaError naming `where`."""
    if leaf.leaf_list:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: a leaf-list takes a JSON array, got {_show(value)}")
        items = [_check_scalar(f"{where}[{i}]", leaf, v) for i, v in enumerate(value)]
        strings = [str(item) for item in items]
        if len(set(strings)) != len(strings):
            raise SchemaError(f"{where}: duplicate entries in a leaf-list")
        return strings
    return _check_scalar(where, leaf, value)


def _check_scalar(where: str, leaf: Leaf, value: object) -> JsonLeafValue:
    if leaf.kind == "boolean":
        if not isinstance(value, bool):
            raise SchemaError(f"{where}: expected a boolean, got {_show(value)}")
        return value
    if leaf.kind == "string":
        if not isinstance(value, str):
            raise SchemaError(f"{where}: expected a string, got {_show(value)}")
        if _NON_XML_CHAR.search(value):
            raise SchemaError(f"{where}: the string contains a character YANG does not allow")
        if leaf.pattern is not None and not re.fullmatch(leaf.pattern, value):
            raise SchemaError(f"{where}: {_show(value)} does not match the type's pattern")
        if (leaf.low is not None and len(value) < leaf.low) or (
            leaf.high is not None and len(value) > leaf.high
        ):
            raise SchemaError(
                f"{where}: length {len(value)} is outside the allowed {leaf.low}..{leaf.high}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(f"{where}: expected a {leaf.kind} JSON number, got {_show(value)}")
    low = 0 if leaf.low is None else leaf.low
    high = _UINT_MAX[leaf.kind] if leaf.high is None else leaf.high
    if not low <= value <= high:
        raise SchemaError(f"{where}: {value} is outside the allowed range {low}..{high}")
    return value


def parse_key(where: str, schema: ListSchema, keys: Mapping[str, str]) -> tuple[JsonLeafValue, ...]:
    """The typed key of a list entry from a gNMI path's `[k=v]` strings."""
    if set(keys) != set(schema.keys):
        wanted = ", ".join(schema.keys)
        raise SchemaError(f"{where}: list {schema.name!r} is keyed by {wanted}")
    values: list[JsonLeafValue] = []
    for key in schema.keys:
        raw = keys[key]
        if raw == "*":
            raise SchemaError(f"{where}: wildcards are not allowed in a Set path")
        leaf = schema.leaves[key]
        if leaf.kind in _UINT_MAX:
            if not raw.isdecimal() or not raw.isascii():
                raise SchemaError(f"{where}/{key}: {raw!r} is not a {leaf.kind}")
            values.append(_check_scalar(f"{where}/{key}", leaf, int(raw)))
        else:
            values.append(_check_scalar(f"{where}/{key}", leaf, raw))
    return tuple(values)


def check_entry(where: str, schema: ListSchema, entry: object) -> JsonEntry:
    """A whole list entry: no unknown members, every present leaf valid (keys included)."""
    if not isinstance(entry, Mapping):
        raise SchemaError(f"{where}: expected a JSON object, got {_show(entry)}")
    checked: JsonEntry = {}
    for member, value in entry.items():
        nested = schema.lists.get(member)
        if nested is not None:
            checked[member] = check_list(f"{where}/{member}", nested, value)
            continue
        leaf = schema.leaves.get(member)
        if leaf is None:
            raise SchemaError(f"{where}: unknown node {member!r} in {schema.name!r}")
        checked[member] = check_leaf(f"{where}/{member}", leaf, value)
    return checked


def check_list(where: str, schema: ListSchema, value: object) -> list[JsonEntry]:
    """A nested list's JSON array: each entry valid and keyed, no key twice."""
    if not isinstance(value, list):
        raise SchemaError(f"{where}: a list takes a JSON array, got {_show(value)}")
    out: list[JsonEntry] = []
    seen: set[tuple[object, ...]] = set()
    for index, item in enumerate(value):
        checked = check_entry(f"{where}[{index}]", schema, item)
        missing = [k for k in schema.keys if k not in checked]
        if missing:
            raise SchemaError(f"{where}[{index}]/{missing[0]}: missing list key")
        key = tuple(checked[k] for k in schema.keys)
        if key in seen:
            raise SchemaError(f"{where}[{index}]: duplicate entry for key {key!r}")
        seen.add(key)
        out.append(checked)
    return out


def check_complete(where: str, schema: ListSchema, entry: Mapping[str, object]) -> None:
    """What YANG requires of an entry once a whole edit is applied: keys and mandatory leaves."""
    for name, leaf in schema.leaves.items():
        if (name in schema.keys or leaf.mandatory) and name not in entry:
            raise SchemaError(f"{where}/{name}: missing mandatory node")
    for name, nested in schema.lists.items():
        children = entry.get(name)
        for child in children if isinstance(children, list) else ():
            keys = "".join(f"[{k}={child.get(k)}]" for k in nested.keys)
            check_complete(f"{where}/{name}{keys}", nested, child)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
