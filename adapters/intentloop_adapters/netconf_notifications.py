"""NETCONF notifications (RFC 5277 / RFC 6470) as the telemetry updates the loops consume.

A `netconf-config-change` says which config nodes some session edited: that is how the
drift loop hears about out-of-band changes without polling. Its targets are YANG
instance-identifiers with the device's own prefixes (`/ild:device/ild:vlan[ild:vlan-id='7']`);
they are rewritten into the module-qualified form gNMI uses
(`/intentloop-device:device/vlan[vlan-id=7]`) so both adapters report the same paths.

An `interface-state` notification (module `intentloop-device`) is the telemetry of a device
without gNMI: each interface entry becomes the updates a gNMI subscription would deliver,
under the same paths (`/interfaces/interface[name=eth1]/state/oper-status` = "UP"/"DOWN",
`latency-ms` and `out-rate-mbps` as floats), so the telemetry loop cannot tell them apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from lxml import etree

from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.device import xml as device_xml

DEVICE_PATH = "/intentloop-device:device"
NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NC_NOTIFICATIONS_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
CONFIRMED_COMMIT_PATH = "/ietf-netconf-notifications:netconf-confirmed-commit"
_MODULES = {device_xml.NS: "intentloop-device"}
_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*):")
_INTERFACE_STATE = f"{{{device_xml.NS}}}interface-state"
_OPER_STATUS = {"up": "UP", "down": "DOWN"}
_ELEMENT = re.compile(r"([^/\[]+)((?:\[[^=\]]+=[^\]]*\])*)")
_KEY = re.compile(r"\[([^=\]]+)=([^\]]*)\]")


def updates_from(device: str, document: str | bytes) -> list[TelemetryUpdate]:
    """The updates one `<notification>` carries; [] for kinds we do not report."""
    root = device_xml.parse_document(document)
    timestamp_ns = _event_time_ns(root)
    updates: list[TelemetryUpdate] = []
    for edit in root.iterfind(f".//{{{NC_NOTIFICATIONS_NS}}}edit"):
        target = edit.find(f"{{{NC_NOTIFICATIONS_NS}}}target")
        if target is None or not (target.text or "").strip():
            continue
        operation = edit.findtext(f"{{{NC_NOTIFICATIONS_NS}}}operation", default="merge")
        updates.append(
            TelemetryUpdate(
                device=device,
                path=instance_identifier_path(target),
                value=operation.strip(),
                timestamp_ns=timestamp_ns,
            )
        )
    for state in root.iterfind(f"./{_INTERFACE_STATE}"):
        updates.extend(_interface_updates(device, state, timestamp_ns))
    confirmed = root.find(f".//{{{NC_NOTIFICATIONS_NS}}}netconf-confirmed-commit")
    if confirmed is not None:
        event = confirmed.findtext(f"{{{NC_NOTIFICATIONS_NS}}}confirm-event", default="")
        updates.append(
            TelemetryUpdate(
                device=device,
                path=f"{CONFIRMED_COMMIT_PATH}/confirm-event",
                value=event.strip(),
                timestamp_ns=timestamp_ns,
            )
        )
    return updates


def _interface_updates(
    device: str, state: etree._Element, timestamp_ns: int
) -> Iterator[TelemetryUpdate]:
    """One update per leaf present; an entry without a name, or a garbled value, is skipped
    (one bad leaf must not cost the other interfaces their update)."""
    for entry in state.iterfind(f"{{{device_xml.NS}}}interface"):
        name = entry.findtext(f"{{{device_xml.NS}}}name", default="").strip()
        if not name:
            continue
        for leaf in entry:
            if not isinstance(leaf.tag, str):
                continue
            leaf_name = etree.QName(leaf).localname
            value = _leaf_value(leaf_name, (leaf.text or "").strip())
            if value is None:
                continue
            yield TelemetryUpdate(
                device=device,
                path=f"/interfaces/interface[name={name}]/state/{leaf_name}",
                value=value,
                timestamp_ns=timestamp_ns,
            )


def _leaf_value(leaf: str, text: str) -> str | float | None:
    if leaf == "oper-status":
        return _OPER_STATUS.get(text)
    if leaf in ("latency-ms", "out-rate-mbps"):
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def instance_identifier_path(target: etree._Element) -> str:
    """`/p:a/p:b[p:k='v']` → `/module:a/b[k=v]`, leaving quoted key values untouched."""
    text = (target.text or "").strip()
    namespaces = {prefix: ns for prefix, ns in target.nsmap.items() if prefix}
    out: list[str] = []
    first = True
    for segment, quoted in _split_quotes(text):
        if quoted:
            out.append(segment)
            continue

        def rename(match: re.Match[str]) -> str:
            nonlocal first
            if first:
                first = False
                module = _MODULES.get(namespaces.get(match.group(1), ""), match.group(1))
                return f"{module}:"
            return ""

        out.append(_PREFIX.sub(rename, segment))
    return "".join(out)


def _split_quotes(text: str) -> list[tuple[str, bool]]:
    """Split an instance-identifier into (text, inside quotes?) parts, quotes dropped."""
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                parts.append(("".join(current), True))
                current, quote = [], ""
            else:
                current.append(char)
        elif char in "'\"":
            parts.append(("".join(current), False))
            current, quote = [], char
        else:
            current.append(char)
    parts.append(("".join(current), bool(quote)))
    return parts


def wanted(path: str, paths: Sequence[str]) -> bool:
    """Whether `path` falls under one of the subscribed paths (all, when none given).

    gNMI's semantics: a shorter path selects a subtree, `*` matches any element name, a
    key `[name=*]` (or no key at all) matches every entry.
    """
    if not paths:
        return True
    elements = _elements(path)
    for requested in paths:
        prefix = requested.rstrip("/")
        if prefix.startswith("/device"):
            prefix = DEVICE_PATH + prefix[len("/device") :]
        if not prefix or path == prefix or path.startswith((prefix + "/", prefix + "[")):
            return True
        pattern = _elements(prefix)
        if elements is not None and pattern is not None and _selects(pattern, elements):
            return True
    return False


Element = tuple[str, dict[str, str]]


def _elements(path: str) -> list[Element] | None:
    """`/a/b[k=v]/c` as [(a, {}), (b, {k: v}), (c, {})]; None if it is not a plain path."""
    elements: list[Element] = []
    position = 1 if path.startswith("/") else 0
    while position < len(path):
        match = _ELEMENT.match(path, position)
        if match is None:
            return None
        elements.append((match.group(1), dict(_KEY.findall(match.group(2)))))
        position = match.end()
        if position < len(path):
            if path[position] != "/":
                return None
            position += 1
    return elements


def _selects(pattern: list[Element], path: list[Element]) -> bool:
    if len(pattern) > len(path):
        return False
    for (want_name, want_keys), (name, keys) in zip(pattern, path, strict=False):
        if want_name not in ("*", name):
            return False
        for key, value in want_keys.items():
            if value != "*" and keys.get(key) != value:
                return False
    return True


def _event_time_ns(root: etree._Element) -> int:
    text = root.findtext(f"{{{NOTIFICATION_NS}}}eventTime", default="").strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1_000_000_000)
