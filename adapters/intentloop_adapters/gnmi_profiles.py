"""Platform profiles: what differs between gNMI devices is data, not another adapter.

A profile says where a device keeps intentloop's configuration, how the vendor-neutral
`DeviceConfigTree` is written there and read back, and how little a Set must carry to go
from one tree to another. `GnmiAdapter` does the rest (sessions, commit-confirm, readback
cache, telemetry) the same way for every profile:

- `intentloop`: the project's own `intentloop-device` module under one container
  (`/intentloop-device:device`), owners stored on the device;
- `openconfig`: the published OpenConfig modules (interfaces, vlan, network-instance,
  qos, routing-policy) on their own paths, owners not stored (OpenConfig has no place
  for them: the device holds `tree.without_owners()`).

Adding a platform is adding a profile (see docs/adding-a-platform.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pygnmi.spec.v080 import gnmi_pb2

from intentloop_adapters import gnmi_codec as codec
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device import gnmi_json as native
from intentloop_intents.device import openconfig as oc
from intentloop_intents.device import openconfig_edits as oc_edits
from intentloop_intents.device.gnmi_json import Edit, GnmiPath

Document = dict[str, Any]


@dataclass(frozen=True)
class Profile:
    name: str
    stores_owners: bool
    # (member name in the document, gNMI path) of every subtree read for the configuration
    roots: tuple[tuple[str, Any], ...]
    render: Callable[[DeviceConfigTree], Document]
    parse: Callable[[Mapping[str, Any]], DeviceConfigTree]
    edits: Callable[[DeviceConfigTree, DeviceConfigTree], tuple[Edit, ...]]
    path: Callable[[GnmiPath], Any]  # an Edit's path as a gNMI Path
    describe: Callable[[Sequence[Edit]], str]  # the native diff people read
    # A cheap comparable form of a Get's values (one per root), equal for equal configs
    reply_form: Callable[[Sequence[bytes]], object]

    def held(self, tree: DeviceConfigTree) -> DeviceConfigTree:
        """What a device of this profile holds of `tree` (what reading it back gives)."""
        return tree.canonical() if self.stores_owners else tree.without_owners()

    def form(self, tree: DeviceConfigTree) -> object:
        """What `reply_form` gives for a device holding `tree` (the readback shortcut)."""
        return self.reply_form(
            [_compact(self.render(tree).get(member, {})) for member, _ in self.roots]
        )

    def set_request(self, edits: Sequence[Edit]) -> Any:
        """One SetRequest carrying every edit; the device applies all of them or none."""
        request = gnmi_pb2.SetRequest()
        for edit in edits:
            if edit.op == "delete":
                request.delete.append(self.path(edit.path))
            else:
                update = gnmi_pb2.Update(path=self.path(edit.path), val=codec.json_ietf(edit.value))
                (request.replace if edit.op == "replace" else request.update).append(update)
        return request

    def document(self, values: Sequence[bytes]) -> Document:
        """The document from the Get values of `roots` (in order); empty ones left out."""
        out: Document = {}
        for (member, _), raw in zip(self.roots, values, strict=True):
            body = json.loads(raw or b"{}")
            if body:
                out[member] = body
        return out


def reply_bytes(values: Sequence[bytes]) -> bytes:
    """The cache key of one configuration read: every root's value, in order."""
    return b"\x00".join(values)


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() if value else b"{}"


def _native_form(values: Sequence[bytes]) -> object:
    return values[0] or b"{}"


def _oc_form(values: Sequence[bytes]) -> object:
    # Devices order list entries and members their own way: compare the JSON, lists by key.
    return [oc_edits.normalise(json.loads(raw or b"{}")) for raw in values]


def _native_edits(current: DeviceConfigTree, desired: DeviceConfigTree) -> tuple[Edit, ...]:
    return native.edits_between(current, desired)


def _oc_edits(current: DeviceConfigTree, desired: DeviceConfigTree) -> tuple[Edit, ...]:
    return oc_edits.edits_between(oc.render(current), oc.render(desired))


def _native_parse(document: Mapping[str, Any]) -> DeviceConfigTree:
    return native.tree_from_json(document.get(native.ROOT.lstrip("/"), {}))


def _oc_path(path: GnmiPath) -> Any:
    elems = [gnmi_pb2.PathElem(name=name, key=dict(keys)) for name, keys in path]
    return gnmi_pb2.Path(elem=elems)


INTENTLOOP = Profile(
    name="intentloop",
    stores_owners=True,
    roots=((native.ROOT.lstrip("/"), codec.config_path()),),
    render=lambda tree: {native.ROOT.lstrip("/"): native.tree_to_json(tree)},
    parse=_native_parse,
    edits=_native_edits,
    path=codec.config_path,
    describe=native.render_edits,
    reply_form=_native_form,
)
OPENCONFIG = Profile(
    name="openconfig",
    stores_owners=False,
    roots=tuple((member, _oc_path(((oc_edits.local(member), ()),))) for member in oc.TOP_LEVEL),
    render=oc.render,
    parse=oc.parse,
    edits=_oc_edits,
    path=_oc_path,
    describe=oc_edits.render_edits,
    reply_form=_oc_form,
)
PROFILES = {profile.name: profile for profile in (INTENTLOOP, OPENCONFIG)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown platform profile {name!r} (known: {sorted(PROFILES)})") from None
