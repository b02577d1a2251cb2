"""The running lab as Kubernetes objects: `intentloop lab inventory | kubectl apply -f -`.

One cluster-scoped `Device` per router, one `Link` per link, and the Secrets the operator
needs to reach them (SSH key, gNMI password, the lab CA) in the operator's namespace. A
router whose telemetry goes over NETCONF notifications has no `gnmi` endpoint (and no gNMI
Secret); a lab without any gNMI endpoint needs no CA Secret, so none is emitted. The
objects are built as dicts from `lab.json` — never from text templates — so a key or a
certificate can never break the YAML around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from intentloop_lab.labstate import LabState, RouterInfo

API_VERSION = "intentloop.io/v1alpha1"
LAB_LABEL = "intentloop.io/lab"
CA_SECRET = "intentloop-lab-ca"  # noqa: S105 - a Secret's name, not a password
DEFAULT_NAMESPACE = "intentloop-system"


def credentials_secret_name(router: str) -> str:
    """NETCONF routers: ssh-auth; gNMI routers: basic-auth (their only credential)."""
    return f"{router}-credentials"


def gnmi_secret_name(router: RouterInfo) -> str:
    """The gNMI credentials: the router's only Secret, or a second one on NETCONF routers."""
    if router.netconf is None:
        return credentials_secret_name(router.name)
    return f"{router.name}-gnmi-credentials"


def documents(state: LabState, *, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """Every object, Secrets first so a Device never points at a missing one."""
    labels = {LAB_LABEL: state.topology}
    docs: list[dict[str, Any]] = []
    if any(router.gnmi is not None for router in state.routers):
        ca = {"ca.crt": _read(state.ca_file)}
        docs.append(_secret(CA_SECRET, namespace, labels, "Opaque", ca))
    for router in state.routers:
        docs.extend(_router_secrets(router, namespace, labels))
    docs.extend(_device(router, state, namespace, labels) for router in state.routers)
    docs.extend(
        {
            "apiVersion": API_VERSION,
            "kind": "Link",
            "metadata": {"name": link.name, "labels": dict(labels)},
            "spec": {
                "a": {"device": link.a, "interface": link.a_interface},
                "b": {"device": link.b, "interface": link.b_interface},
                "capacityMbps": link.capacity_mbps,
                "latencyMs": link.latency_ms,
                "cost": link.cost,
                "srlgs": list(link.srlgs),
            },
        }
        for link in state.links
    )
    return docs


def render(state: LabState, *, namespace: str = DEFAULT_NAMESPACE) -> str:
    return yaml.dump_all(documents(state, namespace=namespace), Dumper=_Dumper, sort_keys=False)


class _Dumper(yaml.SafeDumper):
    """Keys and certificates as `|` blocks, so a person can read them in the output."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _device(
    router: RouterInfo, state: LabState, namespace: str, labels: dict[str, str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "address": state.address,
        "platform": f"intentloop-lab-{router.platform}",
        "model": router.model,
        "role": router.role,
        "site": router.site,
        "driftPolicy": "repair",
        "interfaces": list(router.interfaces),
    }
    if router.netconf is not None:
        spec["netconf"] = {
            "port": router.netconf.port,
            "hostKey": router.netconf.host_key,
            "credentialsSecretRef": _ref(credentials_secret_name(router.name), namespace),
        }
    if router.gnmi is not None:
        spec["gnmi"] = {
            "port": router.gnmi.port,
            "tls": {
                "caSecretRef": _ref(CA_SECRET, namespace),
                "serverName": router.gnmi.server_name,
            },
            "credentialsSecretRef": _ref(gnmi_secret_name(router), namespace),
            "insecure": False,
        }
    return {
        "apiVersion": API_VERSION,
        "kind": "Device",
        "metadata": {"name": router.name, "labels": dict(labels)},
        "spec": spec,
    }


def _router_secrets(
    router: RouterInfo, namespace: str, labels: dict[str, str]
) -> list[dict[str, Any]]:
    secrets = []
    if router.netconf is not None:
        ssh = {
            "username": router.netconf.username,
            "ssh-privatekey": _read(router.netconf.private_key_file),
        }
        name = credentials_secret_name(router.name)
        secrets.append(_secret(name, namespace, labels, "kubernetes.io/ssh-auth", ssh))
    if router.gnmi is not None:
        basic = {"username": router.gnmi.username, "password": _read(router.gnmi.password_file)}
        name = gnmi_secret_name(router)
        secrets.append(_secret(name, namespace, labels, "kubernetes.io/basic-auth", basic))
    return secrets


def _secret(
    name: str, namespace: str, labels: dict[str, str], kind: str, data: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "type": kind,
        "stringData": data,
    }


def _ref(name: str, namespace: str) -> dict[str, str]:
    return {"name": name, "namespace": namespace}


def _read(path: Path) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()
