"""A lab router's gNMI endpoint: real gRPC over TLS on loopback, one per router.

The controller cannot tell it from a small real router: Capabilities, Get, Set (atomic,
validated like the `intentloop-device` YANG module) and Subscribe (ONCE, POLL, STREAM with
SAMPLE and ON_CHANGE) over TLS with the lab CA's certificate. The lab simulator drives its
operational state through plain methods (`set_oper_status`, `set_latency`, `set_out_rate`)
and injects faults (`set_reject_next_commit`, `tamper`).

Routers whose configuration goes over NETCONF still stream telemetry over gNMI, so a target
can run telemetry-only (`serve_config=False`): config paths answer UNIMPLEMENTED.

Many targets live in one lab process, so they share one thread pool: an idle target costs a
gRPC server (one poller thread) and no worker threads; each open stream holds one worker
while it is open. Stopping a target releases its port and ends its streams; starting it again
serves the configuration it had (a router reboot keeps its saved config).
"""

from __future__ import annotations

import functools
import hmac
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import structlog
from pygnmi.spec.v080 import gnmi_pb2_grpc

from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device import openconfig as oc
from intentloop_intents.device.gnmi_json import tree_from_json, tree_to_json
from intentloop_lab import ocvalidator
from intentloop_lab.gnmi_octree import OpenConfigTree, openconfig_config_elems
from intentloop_lab.gnmi_service import (
    Backend,
    CommitRejected,
    GnmiServicer,
    SetOp,
    intentloop_config_elems,
    metadata_value,
)
from intentloop_lab.gnmi_state import LeafPath, RouterState
from intentloop_lab.gnmi_streams import ConfigChange, Hub
from intentloop_lab.gnmi_tree import ConfigTree, PathElems
from intentloop_lab.pki import TlsFiles

log = structlog.get_logger(__name__)

_REJECT_MESSAGE = (
    "commit failed: validation of 'intentloop-device' refused the change "
    "(lab fault injection: reject-next-commit)"
)


@functools.cache
def shared_executor() -> ThreadPoolExecutor:
    """The worker pool all lab targets of this process share (threads start on demand)."""
    return ThreadPoolExecutor(max_workers=512, thread_name_prefix="gnmi-target")


class GnmiTarget:
    """One lab router's gNMI server (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        port: int,
        interfaces: Sequence[str],
        tls: TlsFiles | None,
        serve_config: bool = True,
        software_version: str = "intentloop-lab 0.1",
        host: str = "127.0.0.1",
        username: str | None = None,
        password: str | None = None,
        executor: ThreadPoolExecutor | None = None,
        model: str = "intentloop",
    ) -> None:
        """`port=0` picks a free port at `start()` (read it back from `.port`);
        `tls=None` serves plaintext, which only a lab Device marked insecure may use;
        `model="openconfig"` serves OpenConfig configuration, validated by ygot's schema."""
        if model not in ("intentloop", "openconfig"):
            raise ValueError(f"gNMI target {name}: unknown model {model!r}")
        self.model = model
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.serve_config = serve_config
        self.software_version = software_version
        self.state = RouterState(
            hostname=name, software_version=software_version, interfaces=interfaces
        )
        self.hub = Hub()
        self.running = False
        self._credentials = (username, password) if username is not None else None
        self._executor = executor or shared_executor()
        self._config: ConfigTree | OpenConfigTree = (
            OpenConfigTree(ocvalidator.shared()) if model == "openconfig" else ConfigTree()
        )
        self._config_lock = threading.Lock()
        self._lifecycle_lock = threading.Lock()
        self._reject_next = False
        self._server: grpc.Server | None = None
        self._requested_port = port
        # Called with every candidate tree (JSON_IETF body) before it becomes running; it
        # raises CommitRejected to refuse it (the lab's data plane, see `agent`).
        self.applier: Callable[[dict[str, Any]], None] | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Listen on host:port; returns once the port is bound and serving."""
        with self._lifecycle_lock:
            if self.running:
                return
            if self.model == "openconfig":
                ocvalidator.shared().check({})  # the validator is up before the first Set
            server = grpc.server(self._executor, options=[("grpc.so_reuseport", 0)])
            gnmi_pb2_grpc.add_gNMIServicer_to_server(GnmiServicer(self._backend()), server)
            address = f"{self.host}:{self._requested_port}"
            try:
                if self.tls is None:
                    bound = server.add_insecure_port(address)
                else:
                    credentials = grpc.ssl_server_credentials(
                        [(self.tls.key.read_bytes(), self.tls.cert.read_bytes())]
                    )
                    bound = server.add_secure_port(address, credentials)
            except RuntimeError as exc:
                raise OSError(f"gNMI target {self.name}: cannot listen on {address}") from exc
            if bound == 0:
                raise OSError(f"gNMI target {self.name}: cannot listen on {address}")
            server.start()
            # A restarted router keeps its port, even when the first one was picked for us.
            self._server, self.port, self._requested_port, self.running = server, bound, bound, True
        log.info("lab.gnmi.started", router=self.name, port=bound, tls=self.tls is not None)

    def stop(self) -> None:
        """End open streams and release the port; safe to call twice."""
        with self._lifecycle_lock:
            server, self._server = self._server, None
            if server is None:
                return
            self.running = False
            self.hub.close_all()
            server.stop(grace=None).wait(timeout=10)
        log.info("lab.gnmi.stopped", router=self.name, port=self.port)

    # --- what the simulator drives ------------------------------------------------------
    def set_oper_status(self, interface: str, up: bool) -> None:
        self.hub.publish(self.state.update(interface, oper_up=bool(up)))

    def oper_up(self, interface: str) -> bool:
        return self.state.oper_up(interface)

    def set_latency(self, interface: str, ms: float) -> None:
        self.hub.publish(self.state.update(interface, latency_ms=float(ms)))

    def set_out_rate(self, interface: str, mbps: float) -> None:
        """Traffic leaving `interface`; out-octets advance from it while the port is up."""
        self.hub.publish(self.state.update(interface, out_rate_mbps=float(mbps)))

    def set_in_rate(self, interface: str, mbps: float) -> None:
        """Traffic arriving on `interface`; in-octets advance from it while the port is up."""
        self.hub.publish(self.state.update(interface, in_rate_mbps=float(mbps)))

    def set_counters(self, interface: str, in_octets: int, out_octets: int) -> None:
        """The kernel's byte counters. Between two readings the counters advance at the
        rate; a reading never moves them backwards (counters only ever grow)."""
        now = time.time_ns()
        iface = self.state.interface(interface)
        self.state.update(
            interface,
            in_octets=float(max(in_octets, iface.octets(now, out=False))),
            out_octets=float(max(out_octets, iface.octets(now, out=True))),
        )

    def set_reject_next_commit(self, on: bool = True) -> None:
        """The next Set fails with FAILED_PRECONDITION and a device-style message."""
        with self._config_lock:
            self._reject_next = on

    def config_tree(self) -> dict[str, Any]:
        """The running configuration as the JSON_IETF body of `/intentloop-device:device`
        (an OpenConfig router's parsed into the model first; unreadable parts left out)."""
        with self._config_lock:
            body = self._config.to_json()
        try:
            return self._as_model_json(body)
        except ValueError:
            return {}

    def _as_model_json(self, body: dict[str, Any]) -> dict[str, Any]:
        """A served document as the JSON_IETF body of the lab's own model."""
        return body if self.model == "intentloop" else tree_to_json(oc.parse(body))

    def device_config(self) -> DeviceConfigTree:
        """The running configuration in the vendor-neutral model, whatever the model served."""
        with self._config_lock:
            body = self._config.to_json()
        return oc.parse(body) if self.model == "openconfig" else tree_from_json(body)

    def running_document(self) -> dict[str, Any]:
        """The running configuration exactly as served (OpenConfig: the RFC 7951 document)."""
        with self._config_lock:
            return self._config.to_json()

    def replace_config(self, body: Mapping[str, Any]) -> None:
        """Out-of-band replace (the console, a boot config); validated like a Set."""
        with self._config_lock:
            candidate = self._config.copy()
            candidate.write([], body, replace=True)
            self._install(candidate)

    def tamper(self) -> str:
        """Change the running config behind the controller's back; says what it changed."""
        with self._config_lock:
            candidate = self._config.copy()
            if isinstance(candidate, OpenConfigTree):
                what = _tamper_openconfig(candidate)
            else:
                what = _tamper_intentloop(candidate)
            self._install(candidate)
        log.info("lab.gnmi.tampered", router=self.name, change=what)
        return what

    # --- what the gNMI service needs ----------------------------------------------------
    def _backend(self) -> Backend:
        return _TargetBackend(self)

    def _authorized(self, metadata: Sequence[tuple[str, str | bytes]]) -> bool:
        if self._credentials is None:
            return True
        username = metadata_value(metadata, "username") or ""
        password = metadata_value(metadata, "password") or ""
        want_user, want_password = self._credentials
        user_ok = hmac.compare_digest(username.encode(), want_user.encode())
        password_ok = hmac.compare_digest(password.encode(), (want_password or "").encode())
        return user_ok and password_ok

    def _read_config(self, elems: PathElems) -> Any:
        with self._config_lock:
            return self._config.read(elems)

    def _apply_set(self, ops: Sequence[SetOp]) -> None:
        """All operations of one SetRequest on a copy; the copy replaces the tree or nothing."""
        with self._config_lock:
            if self._reject_next:
                self._reject_next = False
                raise CommitRejected(_REJECT_MESSAGE)
            candidate = self._config.copy()
            for op in ops:
                if op.op == "delete":
                    candidate.delete(op.elems)
                else:
                    candidate.write(op.elems, op.value, replace=op.op == "replace")
            self._install(candidate)

    def _install(self, candidate: ConfigTree | OpenConfigTree) -> None:
        """Make a complete, valid tree the running config and tell config subscribers.

        Called with the config lock held, so subscribers see changes in commit order."""
        if isinstance(candidate, OpenConfigTree) and isinstance(self._config, OpenConfigTree):
            candidate.validate(previous=self._config)
        else:
            candidate.validate()
        if self.applier is not None:  # the data plane, always in the lab's own model
            self.applier(self._as_model_json(candidate.to_json()))
        changes = self._config.changes_to(candidate)  # type: ignore[arg-type]
        self._config = candidate
        self.hub.publish_config(changes)

    def _config_entries(self) -> list[ConfigChange]:
        with self._config_lock:
            return list(self._config.entries())


class _TargetBackend:
    """Adapts a GnmiTarget to the service's Backend protocol without widening its API."""

    def __init__(self, target: GnmiTarget) -> None:
        self._target = target
        self.serve_config = target.serve_config
        self.model = target.model
        self.state = target.state
        self.hub = target.hub

    def authorized(self, metadata: Sequence[tuple[str, str | bytes]]) -> bool:
        return self._target._authorized(metadata)

    def config_elems(self, origin: str, elems: LeafPath) -> PathElems | None:
        if self.model == "openconfig":
            return openconfig_config_elems(origin, elems)
        return intentloop_config_elems(origin, elems)

    def read_config(self, elems: PathElems) -> Any:
        return self._target._read_config(elems)

    def apply_set(self, ops: Sequence[SetOp]) -> None:
        self._target._apply_set(ops)

    def config_entries(self) -> list[ConfigChange]:
        return self._target._config_entries()


def _tamper_intentloop(candidate: ConfigTree) -> str:
    interfaces = candidate.read([("interface", {})])
    if interfaces:
        name = interfaces[0]["name"]
        before = interfaces[0].get("description", "")
        text = "edited on the box" if before != "edited on the box" else "edited again"
        path: PathElems = [("interface", {"name": name}), ("description", {})]
        candidate.write(path, text, replace=False)
        return f"interface {name}: description set to {text!r}"
    candidate.write([("vlan", {"vlan-id": "4093"})], {"name": "rogue"}, replace=True)
    return "vlan 4093 'rogue' added"


def _tamper_openconfig(candidate: OpenConfigTree) -> str:
    interfaces = candidate.read([("interfaces", {})]).get("interface", [])
    managed = [i for i in interfaces if "enabled" in i.get("config", {})]
    if managed:
        name = managed[0]["name"]
        before = managed[0]["config"].get("description", "")
        text = "edited on the box" if before != "edited on the box" else "edited again"
        path: PathElems = [
            ("interfaces", {}),
            ("interface", {"name": name}),
            ("config", {}),
            ("description", {}),
        ]
        candidate.write(path, text, replace=False)
        return f"interface {name}: description set to {text!r}"
    rogue = {
        "name": "rogue0",
        "config": {"name": "rogue0", "type": oc.ETHERNET, "enabled": True, "description": "rogue"},
    }
    candidate.write([("interfaces", {}), ("interface", {"name": "rogue0"})], rogue, replace=True)
    return "interface rogue0 added"
