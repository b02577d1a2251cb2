"""One lab router that speaks real NETCONF: Debian's netconfd behind a private sshd.

Everything a device owns lives in its workdir: SSH host and client keys, sshd_config,
netconfd's startup file (netconfd rewrites it on every commit, so a restart keeps the
configuration), the ncxserver socket, logs and the fault-switch flag. netconfd keeps a
transaction-id file in `~/.yuma/` of its user; devices sharing it corrupt each other's file
(and netconfd refuses to start on a corrupt one), so as root each netconfd runs in its own
mount namespace with the workdir's `yuma/` bound over that directory.

The SSH client key can only run the NETCONF relay (`restrict,command=` in authorized_keys),
so the credential the controller holds is not a root shell on the lab machine.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ncclient import manager

from intentloop_intents.device import DeviceConfigTree, Vlan
from intentloop_intents.device import xml as device_xml

NETCONFD = "/usr/sbin/netconfd"
NETCONF_SUBSYSTEM = "/usr/sbin/netconf-subsystem"
SSHD = "/usr/sbin/sshd"
YANG_DIR = Path(__file__).with_name("yang")
YANG_MODULE = YANG_DIR / "intentloop-device@2026-11-01.yang"
RELAY = Path(__file__).with_name("netconf_relay.py")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_/.+\-@]+$")
_EOM = b"]]>]]>"
_EMPTY_STARTUP = b'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>\n'
_START_TIMEOUT_S = 20.0
_UNIX_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL
_STOP_TIMEOUT_S = 5.0


class NetconfDevice:
    """A NETCONF router on 127.0.0.1:`port`, with switches for the tests' faults."""

    def __init__(self, *, name: str, workdir: Path, port: int, control: Path | None = None) -> None:
        if not _SAFE_PATH.match(str(workdir.absolute())):
            raise ValueError(f"workdir {workdir} must not contain spaces or quotes (sshd_config)")
        if len(str(workdir.absolute() / "ncxserver.sock")) > _UNIX_PATH_MAX:
            raise ValueError(f"workdir {workdir} is too long for a UNIX socket path inside it")
        if control is not None and not _SAFE_PATH.match(str(control.absolute())):
            raise ValueError(f"control socket {control} must not contain spaces or quotes")
        self.name = name
        self.workdir = workdir.absolute()
        self.port = port
        self.control = None if control is None else control.absolute()
        self.username = pwd.getpwuid(os.geteuid()).pw_name
        self._sshd: subprocess.Popen[bytes] | None = None
        self._netconfd: subprocess.Popen[bytes] | None = None
        self._tampered = 0

    # -- files -------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return self.workdir / name

    @property
    def host_public_key(self) -> str:
        return self._path("ssh_host_ed25519_key.pub").read_text().strip()

    @property
    def client_private_key_pem(self) -> str:
        return self._path("client_ed25519_key").read_text()

    @property
    def running(self) -> bool:
        return all(p is not None and p.poll() is None for p in (self._sshd, self._netconfd))

    def _prepare_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for key in ("ssh_host_ed25519_key", "client_ed25519_key"):
            if not self._path(key).exists():
                _write_keypair(self._path(key))
        relay = self._relay_command()
        client_pub = self._path("client_ed25519_key.pub").read_text().strip()
        self._path("authorized_keys").write_text(f'restrict,command="{relay}" {client_pub}\n')
        self._path("sshd_config").write_text(self._sshd_config(relay))
        if not self._path("startup-cfg.xml").exists():
            self._path("startup-cfg.xml").write_bytes(_EMPTY_STARTUP)
        self._path("yuma").mkdir(exist_ok=True)
        self._path("ncxserver.sock").unlink(missing_ok=True)
        self._path("reject-next-commit").unlink(missing_ok=True)

    def _relay_command(self) -> str:
        return " ".join(
            [
                sys.executable,
                "-I",
                str(RELAY),
                "--flag",
                str(self._path("reject-next-commit")),
                *(["--control", str(self.control)] if self.control is not None else []),
                "--",
                NETCONF_SUBSYSTEM,
                f"--ncxserver-sockname={self.port}@{self._path('ncxserver.sock')}",
            ]
        )

    def _sshd_config(self, relay: str) -> str:
        settings = [
            ("ListenAddress", f"127.0.0.1:{self.port}"),
            ("HostKey", str(self._path("ssh_host_ed25519_key"))),
            ("PidFile", str(self._path("sshd.pid"))),
            ("AuthorizedKeysFile", str(self._path("authorized_keys"))),
            ("AllowUsers", self.username),
            ("AuthenticationMethods", "publickey"),
            ("PermitRootLogin", "prohibit-password"),
            ("PasswordAuthentication", "no"),
            ("KbdInteractiveAuthentication", "no"),
            ("UsePAM", "no"),
            ("StrictModes", "no"),
            ("UseDNS", "no"),
            ("PermitTTY", "no"),
            ("X11Forwarding", "no"),
            ("AllowTcpForwarding", "no"),
            ("PrintMotd", "no"),
            # AEAD only, as current routers prefer: it also spares paramiko a MAC check in
            # Python per packet (about a tenth of the client's CPU per RPC, measured).
            ("Ciphers", "aes128-gcm@openssh.com,aes256-gcm@openssh.com"),
            ("MaxStartups", "100"),
            ("MaxSessions", "100"),
            ("Subsystem", f"netconf {relay}"),
        ]
        return "".join(f"{key} {value}\n" for key, value in settings)

    # -- processes ---------------------------------------------------------------------
    def start(self) -> None:
        """Start netconfd and sshd; return once a NETCONF hello arrives over SSH."""
        if self.running:
            return
        self.stop()
        self._prepare_workdir()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation dir
        self._netconfd = self._spawn(self._netconfd_command(), "netconfd.out")
        self._sshd = self._spawn(
            [SSHD, "-D", "-f", str(self._path("sshd_config")), "-E", str(self._path("sshd.log"))],
            "sshd.out",
        )
        try:
            self._wait_for_hello()
        except Exception:
            self.stop()
            raise

    def _netconfd_command(self) -> list[str]:
        command = [
            NETCONFD,
            f"--startup={self._path('startup-cfg.xml')}",
            f"--port={self.port}",
            f"--ncxserver-sockname={self._path('ncxserver.sock')}",
            "--target=candidate",
            f"--superuser={self.username}",
            f"--modpath={YANG_DIR}:/usr/share/yuma/modules",
            f"--module={YANG_MODULE}",
            f"--log={self._path('netconfd.log')}",
            "--log-level=warn",
        ]
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            return command
        home_yuma = Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".yuma"
        home_yuma.mkdir(mode=0o700, exist_ok=True)
        bind_then_exec = 'mount --bind -- "$1" "$2" && shift 2 && exec "$@"'
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            bind_then_exec,
            "sh",
            str(self._path("yuma")),
            str(home_yuma),
            *command,
        ]

    def _spawn(self, command: list[str], output: str) -> subprocess.Popen[bytes]:
        with open(self._path(output), "ab") as out:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_for_hello(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                tails = self._tails()
                raise RuntimeError(f"{self.name}: a lab process exited during start: {tails}")
            try:
                _netconf_hello(self)
                return
            except (OSError, paramiko.SSHException, EOFError) as exc:
                last_error = exc
                time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no NETCONF hello in {_START_TIMEOUT_S}s: {last_error}")

    def _tails(self) -> str:
        tails = []
        for log in ("netconfd.out", "netconfd.log", "sshd.log"):
            path = self._path(log)
            if path.exists():
                tails.append(f"{log}: {path.read_text(errors='replace')[-400:]}")
        return " | ".join(tails)

    def stop(self) -> None:
        """Stop sshd (with its sessions and relays) and netconfd; wait until they are gone."""
        processes = [p for p in (self._sshd, self._netconfd) if p is not None]
        orphans = _descendants(self._sshd.pid) if self._sshd is not None else []
        for pid in orphans:
            _signal(pid, signal.SIGTERM)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        if self._netconfd is not None:
            self._wake_netconfd()
        for process in processes:
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _wait_gone(orphans)
        self._sshd = self._netconfd = None

    def _wake_netconfd(self) -> None:
        """netconfd notices SIGTERM only when its select() returns (up to 1 s): poke it."""
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as poke:
            poke.settimeout(0.5)
            poke.connect(str(self._path("ncxserver.sock")))

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- fault switches ----------------------------------------------------------------
    def set_reject_next_commit(self, on: bool = True) -> None:
        """Arm (or disarm) the relay: the next `<commit>` from any session is refused."""
        flag = self._path("reject-next-commit")
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def tamper(self) -> None:
        """Change running config out of band: vlan 4000, a different name on every call."""
        self._tampered += 1
        name = "tampered" if self._tampered % 2 else "tampered-again"
        change = device_xml.minimal_edit(
            DeviceConfigTree(), DeviceConfigTree(vlans=(Vlan(vlan_id=4000, name=name),))
        )
        key_path = self._path("client_ed25519_key")
        with manager.connect(
            host="127.0.0.1",
            port=self.port,
            username=self.username,
            key_filename=str(key_path),
            hostkey_verify=True,
            hostkey_b64=self.host_public_key.split()[1],
            unknown_host_cb=lambda _host, _fingerprint: False,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        ) as session:
            session.edit_config(target="candidate", config=change)
            session.commit()


def _write_keypair(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    path.with_name(path.name + ".pub").write_bytes(public + b"\n")


def _netconf_hello(device: NetconfDevice) -> None:
    """Open an SSH session, check the host key, and read the server's hello."""
    expected = paramiko.Ed25519Key(data=_key_blob(device.host_public_key))
    client_key = paramiko.Ed25519Key.from_path(device.workdir / "client_ed25519_key")
    with socket.create_connection(("127.0.0.1", device.port), timeout=2) as sock:
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=5)
            if transport.get_remote_server_key() != expected:
                raise RuntimeError(f"{device.name}: sshd presented an unexpected host key")
            transport.auth_publickey(device.username, client_key)
            channel = transport.open_session(timeout=5)
            channel.settimeout(5)
            channel.invoke_subsystem("netconf")
            received = b""
            while _EOM not in received:
                chunk = channel.recv(65536)
                if not chunk:
                    raise EOFError("session closed before hello")
                received += chunk
        finally:
            transport.close()


def _key_blob(public_key_line: str) -> bytes:
    return base64.b64decode(public_key_line.split()[1])


def _descendants(root: int) -> list[int]:
    """Every process below `root` (sshd's per-session children, relays, subsystems)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
