"""Lab devices for the adapter tests: NETCONF always, gNMI once its fixtures exist."""

from __future__ import annotations

import importlib

import pytest

from tests.adapters.netconf_fixtures import netconf_lab_device, netconf_lab_devices

__all__ = ["netconf_lab_device", "netconf_lab_devices"]

ADAPTER_KINDS = ["netconf"]

try:
    _gnmi = importlib.import_module("tests.adapters.gnmi_fixtures")
except ModuleNotFoundError as exc:
    if exc.name != "tests.adapters.gnmi_fixtures":
        raise
else:
    ADAPTER_KINDS += ["gnmi", "openconfig"]
    _names = getattr(_gnmi, "__all__", [n for n in vars(_gnmi) if n.startswith("gnmi_")])
    globals().update({name: getattr(_gnmi, name) for name in _names})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests asking for `adapter_kind` run once per kind of lab device available."""
    if "adapter_kind" in metafunc.fixturenames:
        metafunc.parametrize("adapter_kind", ADAPTER_KINDS)
