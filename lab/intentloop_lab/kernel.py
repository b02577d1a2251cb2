"""Talking to the kernel of a namespace: batched commands, sockets inside it, link dumps.

- Commands go through `ip -batch -` / `tc -batch -`: one process per change of a router,
  however many lines it has.
- A socket is created *inside* a namespace by a short-lived thread that enters it
  (`setns`) and leaves again; the socket stays in that namespace for its whole life, so the
  daemon reads interface state and runs latency probes with no process per read.
- `LinkDump` asks rtnetlink for every interface of its namespace (name, operational state,
  64-bit counters) in one request: what `ip -s -j link` prints, without the process; and
  `configure` raises interfaces, names them and gives them addresses the same way (a lab
  of 300 namespaces would otherwise cost 300 `ip` processes to start).
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

NETNS_DIR = "/run/netns"
T = TypeVar("T")

_RTM_NEWLINK = 16
_RTM_GETLINK = 18
_RTM_NEWADDR = 20
_NLM_F_ACK = 0x4
_NLM_F_EXCL = 0x200
_NLM_F_CREATE = 0x400
_IFF_UP = 0x1
_IFLA_IFALIAS = 20
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
_NLMSG_DONE = 3
_NLMSG_ERROR = 2
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_IFLA_IFNAME = 3
_IFLA_OPERSTATE = 16
_IFLA_STATS64 = 23
_OPER_UP = 6
_CLONE_NEWNET = 0x40000000
_SO_TIMESTAMPNS = 35


class CommandError(RuntimeError):
    """A batch the kernel refused; the message is the tool's own error text."""


def run_batch(tool: str, netns: str | None, lines: Sequence[str], *, force: bool = False) -> None:
    """Run `lines` through `ip`/`tc` batch mode in `netns` (`force`: past errors, quietly)."""
    if not lines:
        return
    command = [tool, *(["-n", netns] if netns else []), *(["-force"] if force else [])]
    command += ["-batch", "-"]
    done = subprocess.run(
        command, input="\n".join(lines) + "\n", capture_output=True, text=True, check=False
    )
    if done.returncode != 0 and not force:
        where = f" in {netns}" if netns else ""
        raise CommandError(f"{tool}{where}: {_first_error(done.stderr)}")


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Command failed")]
    return "; ".join(useful[:2]) or "refused"


def in_netns(netns: str, make: Callable[[], T]) -> T:
    """Call `make` in a thread that has entered `netns` (the caller's thread never moves)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def enter() -> None:
        try:
            with open(os.path.join(NETNS_DIR, netns), "rb") as handle:
                _setns(handle.fileno())
            result.append(make())
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    thread = threading.Thread(target=enter, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def enable_forwarding(netns: str, devices: Sequence[str]) -> None:
    """Let these interfaces of `netns` route what they receive (IPv4 forwarding is per
    receiving interface: a namespace's other interfaces keep forwarding nothing)."""
    if not devices:
        return

    def write() -> None:
        for device in devices:
            path = f"/proc/sys/net/ipv4/conf/{device}/forwarding"
            try:
                with open(path, "w") as handle:
                    handle.write("1\n")
            except OSError as e:
                raise CommandError(f"{netns}: cannot route on {device}: {e.strerror}") from None

    in_netns(netns, write)


def _setns(fd: int) -> None:
    """setns(2) for this thread only (`os.setns` arrived in Python 3.12)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@dataclass(frozen=True)
class LinkStats:
    index: int
    name: str
    oper_up: bool
    rx_bytes: int
    tx_bytes: int


class LinkDump:
    """An rtnetlink socket inside one namespace; `read()` lists its interfaces."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self._sock = in_netns(netns, _netlink_socket)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def read(self) -> dict[str, LinkStats]:
        self._seq += 1
        header = struct.pack("=LHHLL", 32, _RTM_GETLINK, _NLM_F_REQUEST | _NLM_F_DUMP, self._seq, 0)
        self._sock.send(header + struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0))
        found: dict[str, LinkStats] = {}
        while True:
            data = self._sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _flags, seq, _pid = struct.unpack_from("=LHHLL", data, offset)
                if length < 16:
                    return found
                if seq == self._seq:
                    if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                        return found
                    if kind == _RTM_NEWLINK:
                        stats = _parse_link(data[offset + 16 : offset + length])
                        if stats is not None:
                            found[stats.name] = stats
                offset += (length + 3) & ~3

    def configure(self, ports: Sequence[tuple[str, str, str]]) -> None:
        """Raise `lo` and each (name, alias, IPv4 address/31) port, with its alias."""
        index = {name: stats.index for name, stats in self.read().items()}
        self._ack(_RTM_NEWLINK, _ifinfo(index["lo"]))
        for name, alias, address in ports:
            self._ack(_RTM_NEWLINK, _ifinfo(index[name]) + _attr(_IFLA_IFALIAS, alias.encode()))
            packed = socket.inet_aton(address)
            body = struct.pack("=BBBBI", socket.AF_INET, 31, 0, 0, index[name])
            body += _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed)
            self._ack(_RTM_NEWADDR, body, _NLM_F_CREATE | _NLM_F_EXCL)

    def _ack(self, kind: int, body: bytes, flags: int = 0) -> None:
        self._seq += 1
        header = struct.pack(
            "=LHHLL", 16 + len(body), kind, _NLM_F_REQUEST | _NLM_F_ACK | flags, self._seq, 0
        )
        self._sock.send(header + body)
        while True:
            data = self._sock.recv(1 << 16)
            _length, reply, _flags, seq, _pid = struct.unpack_from("=LHHLL", data)
            if reply == _NLMSG_ERROR and seq == self._seq:
                (error,) = struct.unpack_from("=i", data, 16)
                if error:
                    raise CommandError(f"netlink in {self.netns}: {os.strerror(-error)}")
                return


def _ifinfo(index: int) -> bytes:
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, _IFF_UP, _IFF_UP)


def _attr(kind: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return struct.pack("=HH", length, kind) + value + b"\0" * ((4 - length % 4) % 4)


def _netlink_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock


def _parse_link(body: bytes) -> LinkStats | None:
    (index,) = struct.unpack_from("=i", body, 4)
    offset = 16  # struct ifinfomsg
    name, oper, rx, tx = "", 0, 0, 0
    while offset + 4 <= len(body):
        length, kind = struct.unpack_from("=HH", body, offset)
        if length < 4:
            break
        value = body[offset + 4 : offset + length]
        kind &= 0x3FFF
        if kind == _IFLA_IFNAME:
            name = value.split(b"\0", 1)[0].decode()
        elif kind == _IFLA_OPERSTATE:
            oper = value[0]
        elif kind == _IFLA_STATS64 and len(value) >= 32:
            _rx_packets, _tx_packets, rx, tx = struct.unpack_from("=QQQQ", value)
        offset += (length + 3) & ~3
    return LinkStats(index, name, oper == _OPER_UP, rx, tx) if name else None


def udp_socket(netns: str, address: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to `address:port` inside `netns`."""

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)  # kernel arrival times
        sock.bind((address, port))
        sock.setblocking(False)
        return sock

    return in_netns(netns, make)


def existing_namespaces(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []
