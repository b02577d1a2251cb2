"""The gNMI service of a lab router: protobuf in, protobuf out, device behaviour elsewhere.

Built on pygnmi's compiled protos (one registration of `gnmi.proto` per process). Errors
follow the gNMI specification's status codes: refused values and intervals INVALID_ARGUMENT,
an absent element of a served model NOT_FOUND (Get only: a STREAM waits for it to appear),
paths in no served model and unsupported encodings UNIMPLEMENTED, a device refusing a commit
FAILED_PRECONDITION, wrong credentials UNAUTHENTICATED. The message names the node at fault,
because that is what a person reading the controller's status needs. The rules that do not
depend on the model (target echo, encodings, intervals, wildcards) live in `gnmi_spec`.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, Protocol

import grpc
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_lab import gnmi_spec
from intentloop_lab.gnmi_schema import SchemaError
from intentloop_lab.gnmi_state import LeafPath, RouterState, StateLeaf
from intentloop_lab.gnmi_streams import (
    DEFAULT_SAMPLE_NS,
    MIN_SAMPLE_NS,
    ConfigChange,
    Hub,
    Interest,
    Sink,
    dump,
    stream,
)
from intentloop_lab.gnmi_tree import PathElems, PathError

MODULE = "intentloop-device"
MODEL = gnmi_pb2.ModelData(name=MODULE, organization="intentloop", version="2026-11-01")
STATE_MODEL = gnmi_pb2.ModelData(
    name="intentloop-lab-state", organization="intentloop", version="0.1"
)
OPENCONFIG_MODELS = [
    gnmi_pb2.ModelData(name=name, organization="OpenConfig working group", version=version)
    for name, version in (
        ("openconfig-interfaces", "3.8.1"),
        ("openconfig-vlan", "3.2.2"),
        ("openconfig-network-instance", "4.7.0"),
        ("openconfig-qos", "2.2.0"),
        ("openconfig-routing-policy", "3.5.0"),
    )
]
GNMI_VERSION = "0.8.0"


class CommitRejected(Exception):
    """The router refuses this commit (a fault the lab injects); the message is the device's."""


@dataclass(frozen=True)
class SetOp:
    op: Literal["delete", "replace", "update"]
    elems: PathElems
    value: object = None


class Backend(Protocol):
    """What the service needs from the router behind it (`GnmiTarget`)."""

    serve_config: bool
    state: RouterState
    hub: Hub

    model: str  # the configuration model: "intentloop" or "openconfig"

    def authorized(self, metadata: Sequence[tuple[str, str | bytes]]) -> bool: ...

    def config_elems(self, origin: str, elems: LeafPath) -> PathElems | None:
        """The path inside the configuration store, or None when `elems` is state."""
        ...

    def read_config(self, elems: PathElems) -> Any: ...

    def apply_set(self, ops: Sequence[SetOp]) -> None: ...

    def config_entries(self) -> list[ConfigChange]: ...


class GnmiServicer(gnmi_pb2_grpc.gNMIServicer):  # type: ignore[misc]
    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._set_lock = threading.Lock()
        self._paths = {leaf.path: _proto_path(leaf.path) for leaf in backend.state.leaves}

    def Capabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorize(context)
        config = OPENCONFIG_MODELS if self._backend.model == "openconfig" else [MODEL]
        models = [*config, STATE_MODEL] if self._backend.serve_config else [STATE_MODEL]
        return gnmi_pb2.CapabilityResponse(
            supported_models=models,
            supported_encodings=list(gnmi_spec.SERVED_ENCODINGS),
            gNMI_version=GNMI_VERSION,
        )

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorize(context)
        _check_encoding(request.encoding, context)
        notifications = []
        for path in request.path or [gnmi_pb2.Path()]:
            found = self._get_one(request, path, context)
            if found is not None:
                notifications.append(found)
        return gnmi_pb2.GetResponse(notification=notifications)

    def _get_one(self, request: Any, path: Any, context: grpc.ServicerContext) -> Any | None:
        """The Notification for one path of a GetRequest (None: filtered out by type)."""
        origin, elems = _elems(request.prefix, path)
        config = self._config_elems(origin, elems, context)
        kind, encoding, now = request.type, request.encoding, time.time_ns()
        if config is not None:
            if kind in (gnmi_pb2.GetRequest.STATE, gnmi_pb2.GetRequest.OPERATIONAL):
                return None
            value = self._read_config(config, context)
            try:
                val = gnmi_spec.encode_tree(value, encoding)
            except gnmi_spec.EncodingError as exc:
                _abort(context, grpc.StatusCode.UNIMPLEMENTED, str(exc))
            update = gnmi_pb2.Update(path=path, val=val)
            return gnmi_pb2.Notification(timestamp=now, prefix=request.prefix, update=[update])
        if kind == gnmi_pb2.GetRequest.CONFIG:
            return None
        leaves = self._state_leaves(origin, elems, context, absent=grpc.StatusCode.NOT_FOUND)
        updates = [
            gnmi_pb2.Update(
                path=self._paths[leaf.path], val=gnmi_spec.encode_scalar(leaf.read(now), encoding)
            )
            for leaf in leaves
        ]
        prefix = gnmi_spec.reply_prefix(request.prefix)
        return gnmi_pb2.Notification(timestamp=now, prefix=prefix, update=updates)

    def Set(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorize(context)
        with self._set_lock:  # a wildcard expands against the very tree its Set changes
            return self._set(request, context)

    def _set(self, request: Any, context: grpc.ServicerContext) -> Any:
        ops: list[SetOp] = []
        results: list[Any] = []
        entries = functools.cache(lambda: [p for p, _ in self._backend.config_entries()])
        for path in request.delete:
            elems = self._writable(request.prefix, path, context)
            ops += [SetOp("delete", each) for each in _expand(elems, entries)]
            results.append(gnmi_pb2.UpdateResult(path=path, op=gnmi_pb2.UpdateResult.DELETE))
        for upd in request.replace:
            elems = self._writable(request.prefix, upd.path, context)
            ops.append(SetOp("replace", elems, _decode_value(upd.val, context)))
            results.append(gnmi_pb2.UpdateResult(path=upd.path, op=gnmi_pb2.UpdateResult.REPLACE))
        for upd in request.update:
            elems = self._writable(request.prefix, upd.path, context)
            ops.append(SetOp("update", elems, _decode_value(upd.val, context)))
            results.append(gnmi_pb2.UpdateResult(path=upd.path, op=gnmi_pb2.UpdateResult.UPDATE))
        try:
            self._backend.apply_set(ops)
        except SchemaError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except PathError as exc:
            _abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        except CommitRejected as exc:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        # The request's prefix (and so its target) is kept: the results' paths are relative
        # to it, as the request's were (gNMI §2.2.2.1, §3.4.2).
        return gnmi_pb2.SetResponse(
            prefix=request.prefix, timestamp=time.time_ns(), response=results
        )

    def Subscribe(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        self._authorize(context)
        first = next(request_iterator, None)
        if first is None:
            return
        if not first.HasField("subscribe"):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "first request must subscribe")
        request = first.subscribe
        _check_encoding(request.encoding, context)
        sink = self._sink(request, context)
        config = self._backend.config_entries
        if request.mode in (gnmi_pb2.SubscriptionList.ONCE, gnmi_pb2.SubscriptionList.POLL):
            yield from dump(sink, config)
            if request.mode == gnmi_pb2.SubscriptionList.POLL:
                for follow_up in request_iterator:
                    if follow_up.HasField("poll"):
                        yield from dump(sink, config)
            return
        self._backend.hub.add(sink)
        context.add_callback(sink.close)
        try:
            yield from stream(
                sink, config, updates_only=request.updates_only, is_active=context.is_active
            )
        finally:
            self._backend.hub.remove(sink)
            sink.close()

    # --- helpers ------------------------------------------------------------------------
    def _authorize(self, context: grpc.ServicerContext) -> None:
        if not self._backend.authorized(context.invocation_metadata() or ()):
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, "authentication failed")

    def _config_elems(
        self, origin: str, elems: LeafPath, context: grpc.ServicerContext
    ) -> PathElems | None:
        """The path inside the router's configuration store, or None for a state path."""
        rest = self._backend.config_elems(origin, elems)
        if rest is None:
            return None
        if not self._backend.serve_config:
            _abort(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                "this router serves telemetry only over gNMI; its configuration is not served",
            )
        return rest

    def _writable(self, prefix: Any, path: Any, context: grpc.ServicerContext) -> PathElems:
        origin, elems = _elems(prefix, path)
        config = self._config_elems(origin, elems, context)
        if config is None:
            served = not origin and gnmi_spec.in_schema(elems, self._paths)
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT if served else grpc.StatusCode.UNIMPLEMENTED,
                f"{_show(origin, elems)}: "
                + ("read-only state" if served else "in no model this target serves")
                + f"; only {MODULE}:device is writable",
            )
        return config

    def _read_config(self, elems: PathElems, context: grpc.ServicerContext) -> Any:
        try:
            return self._backend.read_config(elems)
        except (PathError, SchemaError) as exc:
            _abort(context, grpc.StatusCode.NOT_FOUND, str(exc))

    def _state_leaves(
        self,
        origin: str,
        elems: LeafPath,
        context: grpc.ServicerContext,
        *,
        absent: grpc.StatusCode | None,
    ) -> list[StateLeaf]:
        """The state leaves a path selects. A path of no served model is UNIMPLEMENTED
        (gNMI §3.3.4, §3.5.2.4); a served path with nothing there yet is `absent` (Get:
        NOT_FOUND) or, with `absent=None`, no leaves (a subscription waits for it)."""
        leaves = self._backend.state.select(elems) if not origin else []
        if leaves:
            return leaves
        if origin or not gnmi_spec.in_schema(elems, self._paths):
            _abort(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                f"{_show(origin, elems)}: in no model this target serves",
            )
        if absent is not None:
            _abort(context, absent, f"{_show(origin, elems)}: no such element")
        return []

    def _sink(self, request: Any, context: grpc.ServicerContext) -> Sink:
        """The leaves (and config entries) a SubscriptionList selects, each with its mode."""
        chosen: dict[LeafPath, Interest] = {}
        config_patterns: list[LeafPath] = []
        for sub in request.subscription:
            origin, elems = _elems(request.prefix, sub.path)
            config = self._config_elems(origin, elems, context)
            if config is not None:  # configuration is always reported on change
                config_patterns.append(tuple((n, tuple(sorted(k.items()))) for n, k in config))
                continue
            try:
                gnmi_spec.check_intervals(
                    sub.sample_interval, sub.heartbeat_interval, minimum_ns=MIN_SAMPLE_NS
                )
            except gnmi_spec.IntervalError as exc:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"{_show(origin, elems)}: {exc}")
            for leaf in self._state_leaves(origin, elems, context, absent=None):
                chosen.setdefault(leaf.path, self._interest(leaf, sub))
        prefix = gnmi_spec.reply_prefix(request.prefix)
        return Sink(list(chosen.values()), config_patterns, prefix, request.encoding)

    def _interest(self, leaf: StateLeaf, sub: Any) -> Interest:
        on_change = leaf.pushed and (
            sub.mode == gnmi_pb2.SubscriptionMode.ON_CHANGE
            or (sub.mode == gnmi_pb2.SubscriptionMode.TARGET_DEFINED and leaf.on_change)
        )
        return Interest(
            leaf,
            self._paths[leaf.path],
            on_change,
            sub.sample_interval or DEFAULT_SAMPLE_NS,
            heartbeat_ns=sub.heartbeat_interval,
            suppress_redundant=sub.suppress_redundant,
        )


_elems = gnmi_spec.path_elems
_proto_path = gnmi_spec.proto_path
_show = gnmi_spec.show_path


def intentloop_config_elems(origin: str, elems: LeafPath) -> PathElems | None:
    """Below `/intentloop-device:device` (origin or first element qualified), else None."""
    first = elems[0] if elems else None
    if (origin, first) not in ((MODULE, ("device", ())), ("", (f"{MODULE}:device", ()))):
        return None
    return [(name, dict(keys)) for name, keys in elems[1:]]


def _check_encoding(encoding: int, context: grpc.ServicerContext) -> None:
    if encoding not in gnmi_spec.SERVED_ENCODINGS:  # §3.3.1: MUST be Unimplemented, naming it
        name = gnmi_pb2.Encoding.Name(encoding)
        _abort(context, grpc.StatusCode.UNIMPLEMENTED, f"encoding {name} is not supported")


def _expand(elems: PathElems, entries: Callable[[], list[LeafPath]]) -> list[PathElems]:
    """A delete path, or each existing node its wildcards name (gNMI §3.4.6)."""
    pattern = tuple((name, tuple(sorted(keys.items()))) for name, keys in elems)
    maybe_many = gnmi_spec.has_wildcard(pattern) or any(keys for _, keys in pattern)
    if not maybe_many or not gnmi_spec.names_many(pattern, entries()):
        return [elems]
    return [
        [(name, dict(keys)) for name, keys in concrete]
        for concrete in gnmi_spec.expand_wildcards(pattern, entries())
    ]


def _decode_value(val: Any, context: grpc.ServicerContext) -> object:
    which = val.WhichOneof("value")
    if which in ("json_ietf_val", "json_val"):
        try:
            return json.loads(getattr(val, which))
        except (ValueError, RecursionError) as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed JSON value: {exc}")
    if which in ("string_val", "bool_val", "uint_val", "int_val"):
        return getattr(val, which)
    _abort(context, grpc.StatusCode.UNIMPLEMENTED, f"values encoded as {which} are not accepted")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")


def metadata_value(metadata: Sequence[tuple[str, str | bytes]], key: str) -> str | None:
    for name, value in metadata:
        if name == key:
            return value.decode() if isinstance(value, bytes) else value
    return None
