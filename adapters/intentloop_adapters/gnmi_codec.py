"""gNMI protobuf on the controller's side: paths, SetRequests, typed values, telemetry.

The JSON ↔ model mapping is pure and lives in `intentloop_intents.device.gnmi_json`; this
module only moves between those data structures and pygnmi's compiled gNMI messages.

Telemetry decoding is the hot path (tens of thousands of updates per second per device
collector), so it avoids per-update work that repeats: a path's string form is computed once
per distinct serialized path and then looked up; values are read with one `WhichOneof`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import grpc
from pygnmi.spec.v080 import gnmi_pb2

from intentloop_adapters.errors import DeviceError, PermanentDeviceError, TransientDeviceError
from intentloop_adapters.protocol import TelemetryUpdate
from intentloop_intents.device.gnmi_json import MODULE, Edit, GnmiPath

CONFIG_ORIGIN = MODULE
_PATH_CACHE_LIMIT = 65_536
_SCALARS = frozenset({"string_val", "int_val", "uint_val", "bool_val", "double_val", "float_val"})
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
}
_TLS_FAILURES = ("handshake failed", "certificate_verify_failed", "hostname verification")


def device_error(device: str, exc: grpc.RpcError) -> DeviceError:
    """A gRPC failure as the error kind the rest of intentloop acts on, with the device's text.

    A TLS handshake that fails verification is permanent: retrying with the same CA or name
    cannot succeed, and a person must fix the Device's CA (gRPC reports it as UNAVAILABLE).
    """
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    if code == grpc.StatusCode.UNAVAILABLE and any(m in details.lower() for m in _TLS_FAILURES):
        return PermanentDeviceError(
            device, f"TLS verification failed (check the Device's CA and name): {details}"
        )
    if code in _TRANSIENT:
        return TransientDeviceError(device, f"{code.name}: {details}")
    return PermanentDeviceError(device, f"{code.name}: {details}")


def config_path(path: GnmiPath = ()) -> Any:
    """`/intentloop-device:device/...` as a gNMI Path (origin = the module, like pygnmi)."""
    elems = [gnmi_pb2.PathElem(name="device")]
    elems += [gnmi_pb2.PathElem(name=name, key=dict(keys)) for name, keys in path]
    return gnmi_pb2.Path(origin=CONFIG_ORIGIN, elem=elems)


def json_ietf(value: Any) -> Any:
    return gnmi_pb2.TypedValue(
        json_ietf_val=json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    )


def set_request(edits: Sequence[Edit]) -> Any:
    """One SetRequest carrying every edit; the target applies all of them or none."""
    request = gnmi_pb2.SetRequest()
    for edit in edits:
        if edit.op == "delete":
            request.delete.append(config_path(edit.path))
        else:
            update = gnmi_pb2.Update(path=config_path(edit.path), val=json_ietf(edit.value))
            (request.replace if edit.op == "replace" else request.update).append(update)
    return request


def replace_all_request(body: dict[str, Any]) -> Any:
    """The whole subtree in one replace: how a saved configuration is restored."""
    return gnmi_pb2.SetRequest(replace=[gnmi_pb2.Update(path=config_path(), val=json_ietf(body))])


def parse_path(text: str) -> Any:
    """`/interfaces/interface[name=eth1]/state/oper-status` → gNMI Path.

    A module-qualified first element (`/intentloop-device:device/...`) becomes the origin,
    as pygnmi does; `\\]` and `\\\\` escape brackets and backslashes in key values.
    """
    elems = [_parse_elem(part) for part in _split_elems(text)]
    origin = ""
    if elems and ":" in elems[0].name:
        origin, elems[0].name = elems[0].name.split(":", 1)
    return gnmi_pb2.Path(origin=origin, elem=elems)


def _split_elems(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    escaped = False
    for char in text.strip("/"):
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "/" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if depth != 0:
        raise ValueError(f"unbalanced brackets in gNMI path {text!r}")
    if current:
        parts.append("".join(current))
    return [p for p in parts if p]


def _parse_elem(part: str) -> Any:
    name, _, rest = part.partition("[")
    keys: dict[str, str] = {}
    rest = "[" + rest if rest else ""
    while rest:
        end = _closing(rest)
        key, sep, value = rest[1:end].partition("=")
        if not sep:
            raise ValueError(f"key without a value in gNMI path element {part!r}")
        keys[key] = _unescape(value)
        rest = rest[end + 1 :]
    return gnmi_pb2.PathElem(name=name, key=keys)


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        out.append(next(chars, "\\") if char == "\\" else char)
    return "".join(out)


def _closing(text: str) -> int:
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "]":
            return index
    raise ValueError(f"unterminated key in gNMI path {text!r}")


def path_text(prefix: Any, path: Any) -> str:
    """The string form TelemetryUpdate carries; an origin qualifies the first element
    (`/intentloop-device:device/...`), the way NETCONF notifications name the same nodes."""
    parts = []
    for elem in (*prefix.elem, *path.elem):
        keys = "".join(f"[{k}={_escape(v)}]" for k, v in sorted(elem.key.items()))
        parts.append(elem.name + keys)
    origin = path.origin or prefix.origin
    if origin and parts:
        parts[0] = f"{origin}:{parts[0]}"
    return "/" + "/".join(parts)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("]", "\\]")


def typed_value(val: Any) -> str | int | float | bool | None:
    which = val.WhichOneof("value")
    if which is None:
        return None
    value: object = getattr(val, which)
    if which in ("json_ietf_val", "json_val"):
        decoded: object = json.loads(value)  # type: ignore[arg-type]
        return decoded if isinstance(decoded, str | int | float | bool) else json.dumps(decoded)
    if which in ("bytes_val", "proto_bytes"):
        raw: bytes = getattr(val, which)
        return raw.hex()
    if which == "decimal_val":
        digits: int = val.decimal_val.digits
        precision: int = val.decimal_val.precision
        return digits / float(10**precision)
    if which in ("leaflist_val", "any_val"):
        return str(value)
    return value if isinstance(value, str | int | float | bool) else str(value)


class TelemetryDecoder:
    """SubscribeResponse → TelemetryUpdate, with path strings cached per serialized path."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._paths: dict[bytes, str] = {}

    def decode(self, response: Any) -> list[TelemetryUpdate]:
        which = response.WhichOneof("response")
        if which == "sync_response":
            return [self._update("", None, time.time_ns(), sync=True)]
        if which != "update":
            return []
        notification = response.update
        stamp = notification.timestamp
        prefix = notification.prefix
        head = prefix.SerializeToString() + b"\x00" if prefix.ByteSize() else b""
        paths, device, out = self._paths, self.device, []
        for update in notification.update:  # the hot loop: lookups hoisted, scalars inline
            path = paths.get(head + update.path.SerializeToString())
            if path is None:
                path = self._path(head, prefix, update.path)
            val = update.val
            kind = val.WhichOneof("value")
            value = getattr(val, kind) if kind in _SCALARS else typed_value(val)
            out.append(TelemetryUpdate(device=device, path=path, value=value, timestamp_ns=stamp))
        out += [self._update(self._path(head, prefix, p), None, stamp) for p in notification.delete]
        return out

    def _path(self, head: bytes, prefix: Any, path: Any) -> str:
        key = head + path.SerializeToString()
        text = self._paths.get(key)
        if text is None:
            if len(self._paths) >= _PATH_CACHE_LIMIT:
                self._paths.clear()  # a device inventing paths must not grow memory forever
            text = self._paths[key] = path_text(prefix, path)
        return text

    def _update(
        self, path: str, value: str | int | float | bool | None, stamp: int, *, sync: bool = False
    ) -> TelemetryUpdate:
        # Validated construction runs in pydantic-core and measured faster (~1.0 µs) than
        # model_construct (~1.9 µs), so the hot path keeps validation.
        return TelemetryUpdate(
            device=self.device, path=path, value=value, timestamp_ns=stamp, sync=sync
        )
