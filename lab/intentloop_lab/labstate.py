"""`lab.json`: what a running lab tells the world about itself.

The daemon writes it once every router answers (so its presence means "ready"), and removes
it on shutdown. The CLI reads it for `status`/`inventory`, tests read it to dial routers,
`lab down` reads the pids in it to make sure nothing is left running. Paths inside are
absolute so a reader needs nothing else.

The data plane is published here too: every router is a network namespace (`netns`), and
every customer port has a customer site behind it — a namespace of its own whose
`interface` is the far end of the port's veth. Traffic tools enter `site.netns` and use
`site.interface`; `intentloop_lab.sites` creates a site's VLAN interface the way this lab's
kernel carries VLAN tags (see `LabState.vlan_encapsulation`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intentloop_lab.topology import Topology

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
    netns: str = Field(default="", description="the router's network namespace")


class SiteInfo(_Model):
    """A customer site: a namespace behind one customer port of one router."""

    device: str = Field(description="the router the site hangs off")
    port: str = Field(description="the router's customer port (as in the Device inventory)")
    netns: str = Field(description="the site's network namespace")
    interface: str = Field(description="the site's end of the port, inside `netns`")
    address: str = Field(description="the site's underlay IPv4 address on `interface` (/31)")
    router_address: str = Field(description="the router's underlay address on the port")
    attachment: int = Field(description="the port's id in the lab's VXLAN numbering")


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
    lab_id: str = Field(default="", description="short id in every namespace name: il-<id>-")
    sites: tuple[SiteInfo, ...] = ()
    vlan_encapsulation: Literal["vxlan"] = Field(
        default="vxlan",
        description="how a VLAN on a port travels: a VXLAN header scoped to that one port "
        "(VNI = attachment * 4096 + VLAN id), as a tag would be (see docs/architecture.md)",
    )

    def router(self, name: str) -> RouterInfo:
        for router in self.routers:
            if router.name == name:
                return router
        raise KeyError(f"no router {name!r} in this lab")

    def site(self, device: str, port: str) -> SiteInfo:
        for site in self.sites:
            if (site.device, site.port) == (device, port):
                return site
        raise KeyError(f"no customer site behind {device}/{port} in this lab")


def link_infos(topology: Topology) -> tuple[LinkInfo, ...]:
    return tuple(
        LinkInfo(
            name=link.name,
            a=link.a,
            a_interface=link.a_interface,
            b=link.b,
            b_interface=link.b_interface,
            capacity_mbps=link.capacity_mbps,
            latency_ms=link.latency_ms,
            cost=link.cost,
            srlgs=link.srlgs,
        )
        for link in topology.links
    )


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
