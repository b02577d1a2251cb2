"""The device tree in NETCONF XML (`urn:intentloop:device`), both ways, and minimal edits.

Everything is built as lxml elements from one table of lists and leaves, never by string
formatting, so hostile text (`<`, `&`, `]]>]]>`) can only ever become character data.
Replies are read with a hardened parser: no DTDs (RFC 6241 forbids them in NETCONF
messages), no entity expansion, no network access — a reply cannot make us read files or
expand a billion laughs. An update pushes only what changed (`minimal_edit`), so an edit is
small and a concurrent change to an unrelated item on the device is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from lxml import etree
from pydantic import BaseModel, ValidationError

from intentloop_intents.device import diff
from intentloop_intents.device.model import (
    DeviceConfigTree,
    Interface,
    Policer,
    StaticRoute,
    SubInterface,
    Vlan,
    Vrf,
)

NS = "urn:intentloop:device"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
DEVICE = f"{{{NS}}}device"
_OPERATION = f"{{{NC_NS}}}operation"
_OWNER = "owner"

LeafKind = type[str] | type[int] | type[bool]
# lxml takes None as the default namespace's prefix; lxml-stubs types the keys as str.
_DEFAULT_NS = cast("dict[str, str]", {None: NS})


class DeviceXmlError(ValueError):
    """The device sent XML we refuse to read, or config that does not fit the model."""


@dataclass(frozen=True)
class _Leaf:
    xml: str
    attr: str
    kind: LeafKind


@dataclass(frozen=True)
class _List:
    xml: str
    collection: str
    model: type[BaseModel]
    keys: tuple[_Leaf, ...]
    leaves: tuple[_Leaf, ...]
    # lists inside each entry (a VRF's static routes): no owners of their own
    nested: tuple[_List, ...] = ()


def _name(xml: str = "name") -> _Leaf:
    return _Leaf(xml, xml.replace("-", "_"), str)


# The YANG module's lists, in schema order; keys first, as RFC 7950 requires on the wire.
_LISTS = (
    _List(
        "interface",
        "interfaces",
        Interface,
        keys=(_name(),),
        leaves=(_Leaf("enabled", "enabled", bool), _name("description"), _Leaf("mtu", "mtu", int)),
    ),
    _List("vlan", "vlans", Vlan, keys=(_Leaf("vlan-id", "vlan_id", int),), leaves=(_name(),)),
    _List(
        "policer",
        "policers",
        Policer,
        keys=(_name(),),
        leaves=(_Leaf("rate-mbps", "rate_mbps", int), _Leaf("burst-kbytes", "burst_kbytes", int)),
    ),
    _List(
        "vrf",
        "vrfs",
        Vrf,
        keys=(_name(),),
        leaves=(_name("route-target"), _name("description")),
        nested=(
            _List(
                "static-route",
                "static_routes",
                StaticRoute,
                keys=(_name("prefix"),),
                leaves=(_name("next-hop"),),
            ),
        ),
    ),
    _List(
        "subinterface",
        "subinterfaces",
        SubInterface,
        keys=(_name("parent"), _Leaf("vlan-id", "vlan_id", int)),
        leaves=(
            _name("description"),
            _name("vrf"),
            _name("policer"),
            _Leaf("l2-instance", "l2_instance", str),
            _name("ipv4"),
        ),
    ),
)
_BY_COLLECTION = {spec.collection: spec for spec in _LISTS}


def _q(local: str) -> str:
    return f"{{{NS}}}{local}"


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _leaf(parent: etree._Element, leaf: _Leaf, value: str | int | bool) -> None:
    etree.SubElement(parent, _q(leaf.xml)).text = _text(value)


def _entry(parent: etree._Element, spec: _List, item: BaseModel) -> etree._Element:
    entry = etree.SubElement(parent, _q(spec.xml))
    for key in spec.keys:
        _leaf(entry, key, getattr(item, key.attr))
    return entry


def render_device(tree: DeviceConfigTree) -> etree._Element:
    """The whole tree as a `<device>` element, lists and owners in canonical order."""
    device = etree.Element(DEVICE, nsmap=_DEFAULT_NS)
    canonical = tree.canonical()
    for spec in _LISTS:
        for item in getattr(canonical, spec.collection):
            _full_entry(device, spec, item)
    return device


def _full_entry(parent: etree._Element, spec: _List, item: BaseModel) -> etree._Element:
    entry = _entry(parent, spec, item)
    for leaf in spec.leaves:
        value = getattr(item, leaf.attr)
        if value is not None:
            _leaf(entry, leaf, value)
    for nested in spec.nested:
        for child in getattr(item, nested.collection):
            _full_entry(entry, nested, child)
    for owner in sorted(getattr(item, "owners", ())):
        etree.SubElement(entry, _q(_OWNER)).text = owner
    return entry


def _config_root() -> etree._Element:
    return etree.Element(f"{{{NC_NS}}}config", nsmap={"nc": NC_NS})


def render_config(tree: DeviceConfigTree) -> etree._Element:
    """`<config>` holding the whole tree, for edit-config or a startup file."""
    config = _config_root()
    config.append(render_device(tree))
    return config


def minimal_edit(current: DeviceConfigTree, desired: DeviceConfigTree) -> etree._Element | None:
    """The smallest `<config>` that turns `current` into `desired`; None when they are equal.

    New items are merged whole; changed items carry their keys and only the changed leaves,
    with `nc:operation="remove"` on leaves that became unset; removed items are keys only
    with `remove` (not `delete`, so an item already gone is no error). An item whose owners
    changed is sent whole with `replace`: the owner set then arrives as one value rather
    than as leaf-list additions and removals. (netconfd 2.13 fails the confirming commit,
    "duplicate entry", when a merged leaf-list addition and a list-entry removal are
    committed together; replace has no such case, and it is still one item.)
    """
    config = _config_root()
    device = etree.SubElement(config, DEVICE, nsmap=_DEFAULT_NS)
    for collection, _key, before, after in diff.pair_items(current, desired):
        spec = _BY_COLLECTION[collection]
        if after is None:
            assert before is not None
            _entry(device, spec, before).set(_OPERATION, "remove")
        elif before is None:
            _full_entry(device, spec, after)
        else:
            _changed_entry(device, spec, before, after)
    return config if len(device) else None


def _changed_entry(
    device: etree._Element, spec: _List, before: BaseModel, after: BaseModel
) -> None:
    changed = diff.changed_fields(before, after)
    if "owners" in changed:
        _full_entry(device, spec, after).set(_OPERATION, "replace")
        return
    entry = _entry(device, spec, after)
    for leaf in spec.leaves:
        if leaf.attr not in changed:
            continue
        value = getattr(after, leaf.attr)
        if value is not None:
            _leaf(entry, leaf, value)
        else:
            etree.SubElement(entry, _q(leaf.xml)).set(_OPERATION, "remove")
    for nested in spec.nested:
        if nested.collection in changed:
            _changed_nested(
                entry, nested, getattr(before, nested.collection), getattr(after, nested.collection)
            )


def _changed_nested(
    entry: etree._Element,
    spec: _List,
    before: tuple[BaseModel, ...],
    after: tuple[BaseModel, ...],
) -> None:
    """Entries of a list inside an item: gone ones removed by key, new or changed ones
    merged whole (their leaves are few; a merge overwrites the changed ones)."""

    def key(item: BaseModel) -> tuple[object, ...]:
        return tuple(getattr(item, k.attr) for k in spec.keys)

    old = {key(item): item for item in before}
    new = {key(item): item for item in after}
    for gone in sorted(old.keys() - new.keys(), key=str):
        _entry(entry, spec, old[gone]).set(_OPERATION, "remove")
    for item in after:
        if old.get(key(item)) != item:
            _full_entry(entry, spec, item)


def subtree_filter() -> etree._Element:
    """The `<device/>` subtree filter for get-config: only intentloop's part of running."""
    return etree.Element(DEVICE, nsmap=_DEFAULT_NS)


def to_text(element: etree._Element) -> str:
    """Indented XML for people (native diffs); the wire uses lxml's own serialisation."""
    return etree.tostring(element, pretty_print=True, encoding="unicode")


def parse_document(document: bytes | str) -> etree._Element:
    """Parse one NETCONF message or data document, refusing DTDs and entities."""
    raw = document.encode("utf-8") if isinstance(document, str) else document
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise DeviceXmlError(f"malformed XML from device: {exc}") from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lacks `doctype`
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise DeviceXmlError("refusing a document type declaration (RFC 6241 forbids them)")
    return root


def parse_config(document: bytes | str) -> DeviceConfigTree:
    """The tree inside an `<rpc-reply>`, `<data>`, `<config>` or `<device>` document."""
    root = parse_document(document)
    device = root if root.tag == DEVICE else next(root.iter(DEVICE), None)
    if device is None:
        return DeviceConfigTree()
    return parse_device(device)


def parse_device(device: etree._Element) -> DeviceConfigTree:
    """Read a `<device>` element into the model; unknown elements are ignored."""
    lists: dict[str, tuple[BaseModel, ...]] = {}
    for spec in _LISTS:
        lists[spec.collection] = tuple(
            _parse_entry(spec, entry) for entry in device.findall(_q(spec.xml))
        )
    try:
        return DeviceConfigTree.model_validate(lists)
    except ValidationError as exc:
        raise DeviceXmlError(f"device config does not fit the model: {exc}") from None


def _parse_entry(spec: _List, entry: etree._Element) -> BaseModel:
    fields: dict[str, object] = {}
    for leaf in (*spec.keys, *spec.leaves):
        child = entry.find(_q(leaf.xml))
        if child is not None:
            fields[leaf.attr] = _value(spec, leaf, child.text or "")
    for nested in spec.nested:
        fields[nested.collection] = tuple(
            _parse_entry(nested, child) for child in entry.findall(_q(nested.xml))
        )
    if "owners" in spec.model.model_fields:
        fields["owners"] = frozenset(o.text or "" for o in entry.findall(_q(_OWNER)))
    try:
        return spec.model.model_validate(fields)
    except ValidationError as exc:
        raise DeviceXmlError(f"{spec.xml}: {exc}") from None


def _value(spec: _List, leaf: _Leaf, text: str) -> str | int | bool:
    if leaf.kind is str:
        return text
    word = text.strip()
    if leaf.kind is bool:
        if word not in ("true", "false"):
            raise DeviceXmlError(f"{spec.xml}/{leaf.xml}: not a boolean: {word[:40]!r}")
        return word == "true"
    try:
        return int(word)
    except ValueError:
        raise DeviceXmlError(f"{spec.xml}/{leaf.xml}: not an integer: {word[:40]!r}") from None
