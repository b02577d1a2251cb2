"""Build the right adapter for a Device from its spec and the credentials read for it.

Configuration goes over NETCONF when the device has a NETCONF endpoint, otherwise over
gNMI, in the device's platform profile (`spec.model`: `intentloop` or `openconfig`, see
`gnmi_profiles`); an OpenConfig device is always configured over gNMI. Telemetry comes
over gNMI when the device has it (one STREAM subscription); a device with NETCONF but no
gNMI streams it as NETCONF notifications (RFC 5277, the `interface-state` notification of
`intentloop-device`), which the NETCONF adapter turns into the same updates under the same
paths. Credentials arrive here as values read from Secrets by the operator; they are
passed to the adapter and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from intentloop_adapters.protocol import DeviceAdapter
from intentloop_intents.resources.inventory import DeviceModel, DeviceSpec

if TYPE_CHECKING:
    from intentloop_adapters.netconf import NetconfAdapter


@dataclass
class Credentials:
    netconf_username: str = ""
    netconf_private_key: str = field(default="", repr=False)
    gnmi_username: str | None = None
    gnmi_password: str | None = field(default=None, repr=False)
    gnmi_ca_pem: str | None = field(default=None, repr=False)


def kind_of(spec: DeviceSpec) -> str:
    return "netconf" if _config_over_netconf(spec) else "gnmi"


def _config_over_netconf(spec: DeviceSpec) -> bool:
    # The OpenConfig profile is gNMI JSON_IETF: such a device is configured over gNMI.
    return spec.netconf is not None and spec.model != DeviceModel.OPENCONFIG


def config_adapter(name: str, spec: DeviceSpec, creds: Credentials) -> DeviceAdapter:
    """The adapter that carries configuration to this device, in its platform profile."""
    if _config_over_netconf(spec):
        return _netconf_adapter(name, spec, creds)
    if spec.gnmi is None:
        raise ValueError(f"device {name}: model {spec.model} needs a gNMI endpoint")
    return telemetry_adapter(name, spec, creds)


def telemetry_adapter(name: str, spec: DeviceSpec, creds: Credentials) -> DeviceAdapter:
    """The adapter whose `subscribe` streams this device's state: gNMI when the device has
    it (config for gNMI devices, telemetry for all), else NETCONF notifications."""
    if spec.gnmi is None:
        if spec.netconf is None:
            raise ValueError(f"device {name} has neither a gNMI nor a NETCONF endpoint")
        return _netconf_adapter(name, spec, creds)
    from intentloop_adapters.gnmi import GnmiAdapter

    return GnmiAdapter(
        name=name,
        host=spec.address,
        port=spec.gnmi.port,
        username=creds.gnmi_username,
        password=creds.gnmi_password,
        ca_pem=creds.gnmi_ca_pem,
        insecure=spec.gnmi.insecure,
        server_name=spec.gnmi.tls.server_name if spec.gnmi.tls else None,
        model=str(spec.model),
    )


def telemetry_needs_connect(spec: DeviceSpec) -> bool:
    """Whether the telemetry adapter must `connect()` before `subscribe()`: a gNMI stream
    runs on the adapter's channel; a NETCONF subscription opens a session of its own."""
    return spec.gnmi is not None


def _netconf_adapter(name: str, spec: DeviceSpec, creds: Credentials) -> NetconfAdapter:
    from intentloop_adapters.netconf import NetconfAdapter

    assert spec.netconf is not None
    return NetconfAdapter(
        name=name,
        host=spec.address,
        port=spec.netconf.port,
        username=creds.netconf_username,
        private_key=creds.netconf_private_key,
        known_host_key=spec.netconf.host_key,
        rpc_timeout_s=10.0,
    )
