"""Bad input is refused at admission by the real API server, with a message naming the field,
and nothing valid already stored is touched."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes
import pytest

from tests.e2e.conftest import Cluster

GROUP, VERSION = "intentloop.io", "v1alpha1"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBtYbSExampleOnlyNotARealKeyAAAAAAAAAAAAAA"


def device(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Device",
        "metadata": {"name": name},
        "spec": {
            "address": "192.0.2.1",
            "interfaces": ["eth1", "eth2"],
            "netconf": {"port": 830, "hostKey": HOST_KEY, "credentialsSecretRef": {"name": "c"}},
        },
    }


def link(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Link",
        "metadata": {"name": name},
        "spec": {
            "a": {"device": "r1", "interface": "core-r2"},
            "b": {"device": "r2", "interface": "core-r1"},
            "capacityMbps": 1000,
        },
    }


def pool(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ResourcePool",
        "metadata": {"name": name},
        "spec": {"kind": "vlan", "ranges": [{"start": 100, "end": 200}]},
    }


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r4", "interface": "eth1"},
            ],
            "bandwidthMbps": 100,
        },
    }


def slice_(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkSlice",
        "metadata": {"name": name},
        "spec": {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r4", "interface": "eth1"},
            ],
            "guaranteedBandwidthMbps": 100,
        },
    }


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    *parents, leaf = path.split(".")
    node = obj
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is _DELETE:
        del node[leaf]
    elif isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return obj


_DELETE = object()

# (case id, base object factory, path to change, new value, text the refusal must contain)
CASES: list[tuple[str, Any, str, Any, str]] = [
    ("missing-required-field", device, "spec.address", _DELETE, "spec.address"),
    ("wrong-type", link, "spec.capacityMbps", "lots", "spec.capacityMbps"),
    ("number-out-of-range", device, "spec.netconf.port", 70000, "spec.netconf.port"),
    ("zero-bandwidth", service, "spec.bandwidthMbps", 0, "spec.bandwidthMbps"),
    ("bad-enum", device, "spec.driftPolicy", "ignore", "spec.driftPolicy"),
    ("bad-enum-protection", service, "spec.protection", "maybe", "spec.protection"),
    (
        "cel-link-endpoints-differ",
        link,
        "spec.b",
        {"device": "r1", "interface": "core-r2"},
        "spec.b",
    ),
    ("cel-link-two-devices", link, "spec.b.device", "r1", "a link joins two different devices"),
    (
        "cel-device-needs-endpoint",
        device,
        "spec.netconf",
        _DELETE,
        "at least one management endpoint",
    ),
    ("over-long-string", device, "spec.site", "x" * 65, "spec.site"),
    ("malformed-address", device, "spec.address", "not an address!", "spec.address"),
    ("malformed-ipv4", device, "spec.address", "300.1.2.3", "address is not a valid IPv4"),
    ("malformed-host-key", device, "spec.netconf.hostKey", "hello", "spec.netconf.hostKey"),
    (
        "duplicate-list-keys",
        service,
        "spec.endpoints",
        [{"device": "r1", "interface": "eth1"}, {"device": "r1", "interface": "eth1"}],
        "spec.endpoints",
    ),
    (
        "too-few-endpoints",
        service,
        "spec.endpoints",
        [{"device": "r1", "interface": "eth1"}],
        "spec.endpoints",
    ),
    (
        "cel-p2p-two-endpoints",
        service,
        "spec.endpoints",
        [{"device": f"r{i}", "interface": "eth1"} for i in (1, 2, 3)],
        "exactly two endpoints",
    ),
    ("vlan-out-of-range", service, "spec.vlan", 4095, "spec.vlan"),
    ("endpoint-vlan-out-of-range", service, "spec.endpoints.1.vlan", 0, "spec.endpoints[1].vlan"),
    (
        "cel-link-tag-pool-bounds",
        pool,
        "spec",
        {"kind": "linkTag", "ranges": [{"start": 1, "end": 5000}]},
        "1..4094",
    ),
    (
        "cel-pool-range-ordered",
        pool,
        "spec.ranges",
        [{"start": 300, "end": 200}],
        "start must not be greater than end",
    ),
    ("cel-vlan-pool-bounds", pool, "spec.ranges", [{"start": 4000, "end": 5000}], "1..4094"),
    ("unknown-field", device, "spec.colour", "blue", 'unknown field "spec.colour"'),
    ("gnmi-insecure-needs-tls", device, "spec.gnmi", {"port": 57400}, "tls is required"),
    ("bad-interface-name", device, "spec.interfaces", ["eth 1"], "spec.interfaces"),
    ("negative-latency", slice_, "spec.maxLatencyMs", -1, "spec.maxLatencyMs"),
    ("bad-name-reference", service, "spec.sliceRef", {"name": "Not_A_Name"}, "spec.sliceRef.name"),
]


def _create(cluster: Cluster, obj: dict[str, Any], namespace: str) -> Any:
    """Create as kubectl does: strict field validation, so unknown fields are errors."""
    plural = obj["kind"].lower() + "s"
    if obj["kind"] in ("NetworkService", "NetworkSlice"):
        return cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, obj, field_validation="Strict"
        )
    return cluster.custom.create_cluster_custom_object(
        GROUP, VERSION, plural, obj, field_validation="Strict"
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("case", "factory", "path", "value", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_invalid_object_is_refused_at_admission_naming_the_field(
    cluster: Cluster,
    namespace: str,
    unique: Any,
    case: str,
    factory: Any,
    path: str,
    value: Any,
    expected: str,
) -> None:
    obj = _set(factory(unique(case)), path, value)
    with pytest.raises(kubernetes.client.ApiException) as refused:
        _create(cluster, obj, namespace)
    assert refused.value.status in (400, 422), refused.value.body  # 400: strict decoding
    message = json.loads(refused.value.body)["message"]
    assert expected in message, message


@pytest.mark.e2e
def test_refused_objects_do_not_touch_what_is_stored(
    cluster: Cluster, namespace: str, unique: Any
) -> None:
    good = _create(cluster, device(unique("good")), namespace)
    name = good["metadata"]["name"]
    # The same name with bad content: refused whether as create or as update.
    with pytest.raises(kubernetes.client.ApiException):
        _create(cluster, _set(device(name), "spec.netconf.port", 0), namespace)
    # from the object as stored now: the operator may have written its status meanwhile, and
    # the refusal must be the schema's, not a conflict's
    current = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", name)
    broken = _set(current, "spec.driftPolicy", "ignore")
    with pytest.raises(kubernetes.client.ApiException) as refused:
        cluster.custom.replace_cluster_custom_object(GROUP, VERSION, "devices", name, broken)
    assert "spec.driftPolicy" in json.loads(refused.value.body)["message"]
    stored = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", name)
    assert stored["metadata"]["generation"] == good["metadata"]["generation"]
    assert stored["spec"] == good["spec"]
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, "devices", name)


@pytest.mark.e2e
def test_defaults_are_applied_by_the_api_server(
    cluster: Cluster, namespace: str, unique: Any
) -> None:
    created = _create(cluster, service(unique("defaults")), namespace)
    assert created["spec"]["type"] == "l2-p2p"
    assert created["spec"]["protection"] == "none"
