"""Real NETCONF lab devices for the adapter tests: netconfd behind sshd, one per workdir.

Each device listens on a free port picked at start; if another process takes the port in
the meantime, the start is retried on a new one.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from intentloop_adapters.netconf import NetconfAdapter
from intentloop_lab.netconf_device import NetconfDevice

_START_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class NetconfLabHandle:
    """`LabDeviceHandle` over a running `NetconfDevice`."""

    device: NetconfDevice
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.device.name

    def make_adapter(self) -> NetconfAdapter:
        return NetconfAdapter(
            name=self.device.name,
            host="127.0.0.1",
            port=self.device.port,
            username=self.device.username,
            private_key=self.device.client_private_key_pem,
            known_host_key=self.device.host_public_key,
            connect_timeout_s=5.0,
            rpc_timeout_s=10.0,
        )

    def reject_next_commit(self) -> None:
        self.device.set_reject_next_commit()

    def tamper(self) -> None:
        self.device.tamper()

    def trigger_change(self) -> None:
        self.device.tamper()


def start_device(name: str, workdir: Path) -> NetconfDevice:
    error: Exception | None = None
    for attempt in range(_START_ATTEMPTS):
        device = NetconfDevice(name=name, workdir=workdir / f"try{attempt}", port=free_port())
        try:
            device.start()
            return device
        except RuntimeError as exc:  # most likely the port was taken meanwhile
            error = exc
    raise RuntimeError(f"{name} did not start: {error}")


@pytest.fixture
def netconf_lab_device(tmp_path: Path) -> Iterator[NetconfLabHandle]:
    device = start_device("nc1", tmp_path / "nc1")
    try:
        yield NetconfLabHandle(device)
    finally:
        device.stop()


def _start_many(names: list[str], base: Path) -> list[NetconfDevice]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(start_device, name, base / name) for name in names]
        return [future.result() for future in futures]


@pytest.fixture
def netconf_lab_devices(tmp_path: Path) -> Iterator[Callable[[int], list[NetconfLabHandle]]]:
    """Factory: `netconf_lab_devices(n)` starts n devices, all stopped at teardown."""
    started: list[NetconfDevice] = []

    def make(n: int) -> list[NetconfLabHandle]:
        names = [f"nc{len(started) + i + 1}" for i in range(n)]
        devices = _start_many(names, tmp_path)
        started.extend(devices)
        return [NetconfLabHandle(device) for device in devices]

    try:
        yield make
    finally:
        for device in started:
            device.stop()
