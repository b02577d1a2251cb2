"""Rules of the gNMI specification the lab's service applies, kept apart from any model.

Each function names the section of `gnmi-specification.md` (openconfig/reference) it
follows. Nothing here knows which YANG model a target serves: paths arrive as element
tuples and the schema as the set of leaves or entries the target has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from pygnmi.spec.v080 import gnmi_pb2

from intentloop_lab.gnmi_state import Elem, LeafPath, Value, matches

JSON = gnmi_pb2.Encoding.JSON
JSON_IETF = gnmi_pb2.Encoding.JSON_IETF
PROTO = gnmi_pb2.Encoding.PROTO
SERVED_ENCODINGS = (JSON, JSON_IETF, PROTO)


class EncodingError(ValueError):
    """A value the requested encoding cannot carry (UNIMPLEMENTED, §3.3.1)."""


class IntervalError(ValueError):
    """A sample or heartbeat interval the target cannot honour (§3.5.1.5.2)."""


def reply_prefix(request_prefix: gnmi_pb2.Path) -> gnmi_pb2.Path | None:
    """The prefix of a reply whose paths are absolute: the request's target, if any (§2.2.2.1).

    A target set in the request's prefix MUST be reflected in the response's prefix, and
    MUST NOT be set when the request did not set it."""
    if not request_prefix.target:
        return None
    return gnmi_pb2.Path(target=request_prefix.target)


def encode_scalar(value: Value, encoding: int) -> gnmi_pb2.TypedValue:
    """A leaf's value in the requested encoding (§2.3).

    PROTO carries the typed scalar fields (§2.3.3); JSON a bare JSON value (§2.3.1);
    JSON_IETF follows RFC 7951, where 64-bit integers (the counters, the only integer
    leaves a lab router streams) are JSON strings (RFC 7951 §6.1)."""
    if encoding == PROTO:
        return typed_value(value)
    if encoding == JSON_IETF:
        is_integer = isinstance(value, int) and not isinstance(value, bool)
        return encode_tree(str(value) if is_integer else value, encoding)
    return encode_tree(value, encoding)


def typed_value(value: Value) -> gnmi_pb2.TypedValue:
    if isinstance(value, bool):
        return gnmi_pb2.TypedValue(bool_val=value)
    if isinstance(value, int):
        return gnmi_pb2.TypedValue(uint_val=value)
    if isinstance(value, float):
        return gnmi_pb2.TypedValue(double_val=value)
    return gnmi_pb2.TypedValue(string_val=value)


def encode_tree(value: object, encoding: int, *, subtree: int | None = None) -> gnmi_pb2.TypedValue:
    """Configuration (a subtree, or one leaf) in the requested encoding (§2.3).

    JSON and JSON_IETF carry any subtree; PROTO only scalar leaves (§2.3.3), so `subtree`
    says what to do with a subtree asked for in PROTO: refuse it (Get), or send it as
    JSON_IETF (a subscription that watches configuration entries)."""
    if encoding == PROTO and not isinstance(value, str | int | float) and subtree is not None:
        encoding = subtree
    if encoding == PROTO:
        if not isinstance(value, str | int | float):
            raise EncodingError(
                "PROTO encoding carries scalar leaves; ask for a subtree as JSON or JSON_IETF"
            )
        return typed_value(value)
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if encoding == JSON:
        return gnmi_pb2.TypedValue(json_val=raw)
    return gnmi_pb2.TypedValue(json_ietf_val=raw)


def path_elems(prefix: gnmi_pb2.Path, path: gnmi_pb2.Path) -> tuple[str, LeafPath]:
    """The origin and elements of `path` below `prefix` (§2.4.1)."""
    origin = path.origin or prefix.origin
    elems = tuple((e.name, tuple(sorted(e.key.items()))) for e in (*prefix.elem, *path.elem))
    return origin, elems


def proto_path(path: LeafPath) -> gnmi_pb2.Path:
    return gnmi_pb2.Path(elem=[gnmi_pb2.PathElem(name=n, key=dict(k)) for n, k in path])


def show_path(origin: str, elems: LeafPath) -> str:
    """The conventional text of a path, for error messages."""
    body = "/" + "/".join(n + "".join(f"[{k}={v}]" for k, v in keys) for n, keys in elems)
    return f"{origin}:{body}" if origin else body


def in_schema(pattern: LeafPath, leaves: Iterable[LeafPath]) -> bool:
    """Whether `pattern` names a node of the schema whatever the key values (§3.3.4, §3.5.2.4).

    A path of a model the target serves whose element is absent (an interface that does not
    exist) is valid: Get answers NOT_FOUND and a STREAM waits for it. A path in no model is
    not implemented by this target."""
    return any(_shape_matches(pattern, leaf) for leaf in leaves)


def _shape_matches(pattern: LeafPath, path: LeafPath) -> bool:
    if len(pattern) > len(path):
        return False
    for (p_name, p_keys), (name, keys) in zip(pattern, path, strict=False):
        if p_name not in ("*", name):
            return False
        names = {k for k, _ in keys}
        if any(k not in names for k, _ in p_keys):
            return False
    return True


def check_intervals(sample_ns: int, heartbeat_ns: int, *, minimum_ns: int) -> None:
    """Refuse intervals below the target's minimum (§3.5.1.5.2: "If the target is unable to
    support the desired sample_interval it MUST reject the subscription ... InvalidArgument").
    0 means the target's choice and is always accepted."""
    for name, value in (("sample_interval", sample_ns), ("heartbeat_interval", heartbeat_ns)):
        if 0 < value < minimum_ns:
            raise IntervalError(
                f"{name} {value} ns is below this target's minimum of {minimum_ns} ns"
            )


def has_wildcard(elems: Sequence[Elem]) -> bool:
    return any(name == "*" or any(v == "*" for _, v in keys) for name, keys in elems)


def names_many(pattern: LeafPath, entries: Iterable[LeafPath]) -> bool:
    """Whether a delete path can name several nodes: a `*`, or an element giving only some
    of the keys its list has (§3.4.6: wildcards "MUST support paths specifying a subset of
    attributes required to identify entries within a collection")."""
    if has_wildcard(pattern):
        return True
    for entry in entries:
        for (p_name, p_keys), (name, keys) in zip(pattern, entry, strict=False):
            if p_name == name and p_keys and {k for k, _ in p_keys} < {k for k, _ in keys}:
                return True
    return False


def expand_wildcards(pattern: LeafPath, entries: Iterable[LeafPath]) -> list[LeafPath]:
    """The concrete paths a wildcard delete names (§3.4.6: "If a wildcard path is utilised,
    the wildcards MUST be expanded by the target"): every existing entry the pattern's
    entry part matches, with the rest of the pattern (a leaf of the entry) appended."""
    found: list[LeafPath] = []
    for entry in entries:
        depth = len(entry)
        if len(pattern) >= depth and matches(pattern[:depth], entry):
            concrete = (*entry, *pattern[depth:])
        elif len(pattern) < depth and matches(pattern, entry):
            concrete = entry
        else:
            continue
        if concrete not in found and not has_wildcard(concrete[depth:]):
            found.append(concrete)
    return found
