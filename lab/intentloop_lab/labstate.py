"""`lab.json`: what a running lab tells the world about itself.

The daemon writes it once every router answers (so its presence means "ready"), and removes
it on shutdown. The CLI reads it for `status`/`inventory`, tests read it to dial routers,
`lab down` reads the pids in it to make sure nothing is left running. Paths inside are
absolute so a reader needs nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "lab.json"
SOCKET_FILE = "control.sock"
LOG_FILE = "lab.log"
ROUTERS_DIR = "routers"
PKI_DIR = "pki"
ADDRESS = "127.0.0.1"
SERVER_NAME = "localhost"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetconfAccess(_Model):
    port: int
    host_key: str = Field(description="'ssh-ed25519 AAAA...', the key sshd presents")
    username: str
    private_key_file: Path


class GnmiAccess(_Model):
    port: int
    serves_config: bool = Field(description="False: telemetry only (config goes over NETCONF)")
    username: str
    password_file: Path
    ca_file: Path
    server_name: str = SERVER_NAME


class RouterInfo(_Model):
    name: str
    platform: Literal["netconf", "gnmi"]
    model: Literal["intentloop", "openconfig"] = "intentloop"
    site: str
    role: str
    software_version: str
    interfaces: tuple[str, ...] = Field(description="customer-facing ports")
    core_interfaces: tuple[str, ...]
    netconf: NetconfAccess | None = None
    gnmi: GnmiAccess | None = Field(
        default=None, description="None: telemetry over NETCONF notifications, no gNMI"
    )
    pids: tuple[int, ...] = Field(default=(), description="child processes (sshd, netconfd)")


class LinkInfo(_Model):
    name: str
    a: str
    a_interface: str
    b: str
    b_interface: str
    capacity_mbps: int
    latency_ms: float
    cost: int
    srlgs: tuple[str, ...]


class LabState(_Model):
    version: Literal[1] = 1
    topology: str
    address: str = ADDRESS
    daemon_pid: int
    state_dir: Path
    socket: Path
    log_file: Path
    ca_file: Path
    routers: tuple[RouterInfo, ...]
    links: tuple[LinkInfo, ...]

    def router(self, name: str) -> RouterInfo:
        for router in self.routers:
            if router.name == name:
                return router
        raise KeyError(f"no router {name!r} in this lab")


def default_state_dir() -> Path:
    """`$INTENTLOOP_STATE_DIR/lab`, else `~/.local/state/intentloop/lab`."""
    base = os.environ.get("INTENTLOOP_STATE_DIR")
    root = Path(base) if base else Path.home() / ".local" / "state" / "intentloop"
    return root / "lab"


def read_state(state_dir: Path) -> LabState | None:
    """The running lab's description, or None when no lab has announced itself here."""
    path = state_dir / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return LabState.model_validate_json(text)


def write_state(state_dir: Path, state: LabState) -> None:
    """Atomically: a reader sees either no file or a complete one."""
    path = state_dir / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, path)


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def processes_mentioning(path: Path) -> tuple[int, ...]:
    """Live processes whose command line names `path` (the lab's children all do).

    Recorded in `lab.json` so `lab down` can make sure none survives a daemon that died
    without cleaning up; the path is unique to one lab, so no stranger matches.
    """
    needle = str(path.absolute()).rstrip("/").encode() + b"/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return tuple(sorted(found))
