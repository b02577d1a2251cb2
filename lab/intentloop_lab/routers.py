"""One lab router as the daemon sees it: its processes, its telemetry target, its config.

A NETCONF router is a real netconfd behind its own sshd *plus* a telemetry-only gNMI
target (most routers stream state over gNMI whatever they are configured with); a gNMI
router is one target that serves config and telemetry. A NETCONF router with
`telemetry: netconf` has no gNMI target: the interface state read from its kernel is
written to a file its NETCONF relay turns into notifications (see `netconf_relay`). Ports are chosen
once and kept across stop/start, so the inventory handed to Kubernetes stays true after a
restart.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from intentloop_intents.device import DeviceConfigTree, gnmi_json
from intentloop_intents.device import xml as device_xml
from intentloop_lab import labstate, netconf_relay
from intentloop_lab.agent import DeviceAgent
from intentloop_lab.gnmi_service import CommitRejected
from intentloop_lab.gnmi_target import GnmiTarget
from intentloop_lab.kernel import CommandError
from intentloop_lab.netconf_device import NetconfDevice
from intentloop_lab.pki import LabPki
from intentloop_lab.simulation import InterfaceStateFile, TelemetrySink
from intentloop_lab.topology import Router, Topology

log = structlog.get_logger(__name__)

_START_ATTEMPTS = 3
GNMI_USERNAME = "intentloop"


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice, never a fixed number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((labstate.ADDRESS, 0))
        return int(sock.getsockname()[1])


class LabRouter:
    """Starts, stops and faults one router; reads back what it is configured with."""

    def __init__(
        self,
        *,
        router: Router,
        topology: Topology,
        workdir: Path,
        pki: LabPki,
        control: Path | None = None,
    ):
        self.spec = router
        self.workdir = workdir
        self.control = control  # the daemon's socket: NETCONF commits checked by the kernel
        self.interfaces = topology.interfaces_of(router.name)
        self._tls = pki.server(router.name)
        self.netconf: NetconfDevice | None = None
        self.gnmi: GnmiTarget | None = None
        self._gnmi_password = secrets.token_urlsafe(18)
        self._config_stamp: tuple[int, int, int] | None = None
        self._tree = DeviceConfigTree()
        self.agent: DeviceAgent | None = None
        self.state_file: InterfaceStateFile | None = None
        if router.telemetry == "netconf":
            path = self._netconf_dir / netconf_relay.STATE_FILE
            self.state_file = InterfaceStateFile(path, self.interfaces)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def _netconf_dir(self) -> Path:
        return self.workdir / "netconf"

    @property
    def _has_gnmi(self) -> bool:
        return self.spec.platform == "gnmi" or self.spec.telemetry == "gnmi"

    @property
    def running(self) -> bool:
        parts: list[NetconfDevice | GnmiTarget | None] = []
        if self.spec.platform == "netconf":
            parts.append(self.netconf)
        if self._has_gnmi:
            parts.append(self.gnmi)
        return all(part is not None and part.running for part in parts)

    @property
    def telemetry_sink(self) -> TelemetrySink | None:
        """Where the daemon pushes this router's interface state (read from its kernel)."""
        return self.state_file if self.state_file is not None else self.gnmi

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start every process of the router; retried on a port lost to a race."""
        self.workdir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.workdir.mkdir(exist_ok=True, mode=0o700)
        if self.spec.platform == "netconf":
            self._start_netconf()
        if self._has_gnmi:
            self._start_gnmi()

    def _start_netconf(self) -> None:
        if self.netconf is not None:
            self.netconf.start()
            return
        last: Exception | None = None
        for _ in range(_START_ATTEMPTS):
            device = NetconfDevice(
                name=self.name, workdir=self._netconf_dir, port=free_port(), control=self.control
            )
            try:
                device.start()
            except RuntimeError as exc:  # most likely the port was taken meanwhile
                last = exc
                continue
            self.netconf = device
            return
        raise RuntimeError(f"{self.name}: NETCONF device did not start: {last}")

    def _start_gnmi(self) -> None:
        if self.gnmi is not None:
            self.gnmi.start()
            return
        last: Exception | None = None
        for _ in range(_START_ATTEMPTS):
            target = GnmiTarget(
                name=self.name,
                port=free_port(),
                interfaces=self.interfaces,
                tls=self._tls,
                serve_config=self.spec.platform == "gnmi",
                software_version=self.spec.software_version,
                username=GNMI_USERNAME,
                password=self._gnmi_password,
                model=self.spec.config_model if self.spec.platform == "gnmi" else "intentloop",
            )
            try:
                target.start()
            except OSError as exc:  # the port was taken between choosing and binding it
                last = exc
                continue
            self.gnmi = target
            return
        raise RuntimeError(f"{self.name}: gNMI target did not start: {last}")

    def stop(self) -> None:
        if self.gnmi is not None:
            self.gnmi.stop()
        if self.netconf is not None:
            self.netconf.stop()

    def destroy(self) -> None:
        """Stop and remove everything on disk that belongs to this router."""
        self.stop()
        if self.netconf is not None:
            self.netconf.destroy()

    # --- faults -------------------------------------------------------------------------
    def tamper(self) -> None:
        if self.netconf is not None:
            self.netconf.tamper()
        elif self.gnmi is not None:
            self.gnmi.tamper()

    def reject_next_commit(self) -> None:
        if self.netconf is not None:
            self.netconf.set_reject_next_commit(True)
        elif self.gnmi is not None:
            self.gnmi.set_reject_next_commit(True)

    # --- what it is configured with -----------------------------------------------------
    def attach_agent(self, agent: DeviceAgent) -> None:
        """Let `agent` forward what this router is configured with.

        A gNMI router applies each commit in its Set path (a refused change fails the Set
        and leaves the running config as it was); a NETCONF router's relay has the daemon
        apply the candidate before it forwards a `<commit>` (a refusal fails the commit),
        and `running_tree()` is applied on the daemon's next tick (edits that bypass commit).
        """
        self.agent = agent
        if self.gnmi is not None and self.spec.platform == "gnmi":
            self.gnmi.applier = self._apply_candidate

    @property
    def forwards_in_commit(self) -> bool:
        """Whether every commit reaches the agent before it is acknowledged (gNMI)."""
        return self.gnmi is not None and self.gnmi.applier is not None

    def _apply_candidate(self, body: Mapping[str, Any]) -> None:
        assert self.agent is not None
        try:
            tree = self.parse_running(body)
        except ValueError:  # a tree the model cannot read is not forwarded (kept running)
            return
        try:
            self.agent.apply(tree)
        except CommandError as exc:
            raise CommitRejected(f"commit failed: the data plane refused it: {exc}") from exc

    def parse_running(self, raw: Mapping[str, Any] | bytes) -> DeviceConfigTree:
        """THE way this router's running config becomes the vendor-neutral tree.

        One function per router so that a platform profile (OpenConfig for gNMI routers)
        changes parsing in one place: JSON_IETF from a gNMI target, XML from netconfd.
        """
        if isinstance(raw, bytes):
            return device_xml.parse_config(raw)
        return gnmi_json.tree_from_json(raw)

    def running_tree(self) -> DeviceConfigTree:
        """The running configuration (cheap when unchanged); the last good one on garbage."""
        if self.netconf is not None:
            return self._netconf_tree()
        if self.gnmi is not None and self.gnmi.running:
            try:
                self._tree = self.parse_running(self.gnmi.config_tree())
            except ValueError as exc:
                log.warning("lab.config.unreadable", router=self.name, error=str(exc))
        return self._tree

    def _netconf_tree(self) -> DeviceConfigTree:
        # netconfd rewrites its startup file on every commit (a confirmed commit: once it is
        # confirmed), so the file is the running config without a NETCONF session of ours
        # beside the controller's. A change still awaiting confirmation is therefore not
        # forwarded until it is confirmed.
        assert self.netconf is not None
        path = self.netconf.workdir / "startup-cfg.xml"
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return self._tree
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp != self._config_stamp:
            self._config_stamp = stamp
            try:
                self._tree = self.parse_running(path.read_bytes())
            except ValueError as exc:
                log.warning("lab.config.unreadable", router=self.name, error=str(exc))
        return self._tree

    # --- description --------------------------------------------------------------------
    def pids(self) -> tuple[int, ...]:
        """The router's child processes (sshd, netconfd): every process naming its workdir."""
        return labstate.processes_mentioning(self.workdir)

    def info(self, credentials_dir: Path) -> labstate.RouterInfo:
        core = self.interfaces[len(self.spec.ports) :]
        netconf = None
        if self.netconf is not None:
            netconf = labstate.NetconfAccess(
                port=self.netconf.port,
                host_key=self.netconf.host_public_key,
                username=self.netconf.username,
                private_key_file=_write_secret(
                    credentials_dir / "ssh-privatekey", self.netconf.client_private_key_pem
                ),
            )
        gnmi = None
        if self.gnmi is not None:
            gnmi = labstate.GnmiAccess(
                port=self.gnmi.port,
                serves_config=self.spec.platform == "gnmi",
                username=GNMI_USERNAME,
                password_file=_write_secret(credentials_dir / "gnmi-password", self._gnmi_password),
                ca_file=self._tls.ca,
            )
        return labstate.RouterInfo(
            name=self.name,
            platform=self.spec.platform,
            model=self.spec.config_model,
            site=self.spec.site,
            role=self.spec.role,
            software_version=self.spec.software_version,
            interfaces=self.spec.ports,
            core_interfaces=core,
            netconf=netconf,
            gnmi=gnmi,
            pids=self.pids(),
        )


def _write_secret(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
