"""Real lab gNMI targets for the adapter tests: gRPC over TLS on loopback, lab CA per session.

Targets bind port 0 and read the port the kernel gave them back, so there is no window in
which another process can take a port chosen in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from intentloop_adapters.gnmi import GnmiAdapter
from intentloop_lab.gnmi_target import GnmiTarget
from intentloop_lab.pki import LabPki, TlsFiles

__all__ = ["gnmi_lab_device", "gnmi_lab_devices", "gnmi_pki", "openconfig_lab_device"]

INTERFACES = ("eth1", "eth2")


@dataclass
class GnmiLabHandle:
    """`LabDeviceHandle` over a running `GnmiTarget` (plus the target, for gNMI-only tests)."""

    target: GnmiTarget
    tls: TlsFiles | None

    @property
    def name(self) -> str:
        return self.target.name

    def make_adapter(self, **overrides: Any) -> GnmiAdapter:
        settings: dict[str, Any] = {
            "name": self.target.name,
            "host": "127.0.0.1",
            "port": self.target.port,
            "timeout_s": 5.0,
            "model": self.target.model,
        }
        if self.tls is not None:
            settings["ca_pem"] = self.tls.ca_pem()
        else:
            settings["insecure"] = True
        settings.update(overrides)
        return GnmiAdapter(**settings)

    def reject_next_commit(self) -> None:
        self.target.set_reject_next_commit(True)

    def tamper(self) -> None:
        self.target.tamper()

    def trigger_change(self) -> None:
        """Both kinds of ON_CHANGE a gNMI router reports: a port flap and a config edit."""
        self.target.set_oper_status(INTERFACES[0], not self.target.oper_up(INTERFACES[0]))
        self.target.tamper()


@pytest.fixture(scope="session")
def gnmi_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    """One lab CA for the session (EC keys: creating it takes milliseconds)."""
    return LabPki(Path(tmp_path_factory.mktemp("gnmi-pki")))


def start_target(name: str, pki: LabPki | None, **options: Any) -> GnmiLabHandle:
    tls = pki.server("gnmi-lab") if pki is not None else None
    target = GnmiTarget(name=name, port=0, interfaces=INTERFACES, tls=tls, **options)
    target.start()
    return GnmiLabHandle(target, tls)


@pytest.fixture
def gnmi_lab_device(gnmi_pki: LabPki) -> Iterator[GnmiLabHandle]:
    handle = start_target("gn1", gnmi_pki)
    try:
        yield handle
    finally:
        handle.target.stop()


@pytest.fixture
def gnmi_lab_devices(gnmi_pki: LabPki) -> Iterator[Callable[[int], list[GnmiLabHandle]]]:
    """Factory: `gnmi_lab_devices(n)` starts n targets, all stopped at teardown."""
    started: list[GnmiLabHandle] = []

    def make(n: int) -> list[GnmiLabHandle]:
        handles = [start_target(f"gn{len(started) + i + 1}", gnmi_pki) for i in range(n)]
        started.extend(handles)
        return handles

    try:
        yield make
    finally:
        for handle in started:
            handle.target.stop()


@pytest.fixture
def openconfig_lab_device(gnmi_pki: LabPki) -> Iterator[GnmiLabHandle]:
    """A lab gNMI router speaking OpenConfig, every Set validated by ygot's schema."""
    handle = start_target("oc1", gnmi_pki, model="openconfig")
    try:
        yield handle
    finally:
        handle.target.stop()
