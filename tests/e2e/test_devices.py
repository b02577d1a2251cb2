"""The Device controller against the real API server and real lab devices."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, Lab, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"


def _device(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", name)


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return c
    return None


def _ready(cluster: Cluster, name: str, want: str) -> dict[str, Any] | None:
    obj = _device(cluster, name)
    cond = _condition(obj, "Ready")
    return obj if cond and cond["status"] == want else None


@pytest.mark.e2e
def test_every_lab_device_is_reported_reachable_with_its_version(
    cluster: Cluster, lab: Lab, operator: Operator
) -> None:
    for router in lab.state.routers:
        obj = wait_for(
            lambda r=router.name: _ready(cluster, r, "True"),
            timeout=30,
            what=f"Device {router.name} Ready",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        status = obj["status"]
        assert status["reachable"] is True
        assert status["softwareVersion"]
        assert status["observedGeneration"] == obj["metadata"]["generation"]
        assert {c["type"] for c in status["conditions"]} >= {"Ready", "Degraded", "Progressing"}
        expected = "netconfd" if router.netconf else "intentloop-lab"
        assert expected in status["softwareVersion"]


@pytest.mark.e2e
def test_a_stopped_device_turns_unreachable_and_recovers(
    cluster: Cluster, lab: Lab, operator: Operator
) -> None:
    name = next(r.name for r in lab.state.routers if r.netconf is not None)
    wait_for(lambda: _ready(cluster, name, "True"), timeout=30, what=f"{name} Ready")
    lab.device(name, "stop")
    try:
        obj = wait_for(lambda: _ready(cluster, name, "False"), timeout=30, what=f"{name} down")
        assert obj["status"]["reachable"] is False
        assert _condition(obj, "Ready")["reason"] == "Unreachable"  # type: ignore[index]
        assert _condition(obj, "Degraded")["status"] == "True"  # type: ignore[index]
    finally:
        lab.device(name, "start")
    wait_for(lambda: _ready(cluster, name, "True"), timeout=30, what=f"{name} back")


def _clone(cluster: Cluster, source: str, name: str, edit: Any) -> None:
    obj = copy.deepcopy(_device(cluster, source))
    body = {"apiVersion": obj["apiVersion"], "kind": "Device", "metadata": {"name": name}}
    body["spec"] = edit(obj["spec"])
    cluster.custom.create_cluster_custom_object(GROUP, VERSION, "devices", body)


def _netconf_router(lab: Lab) -> str:
    return next(r.name for r in lab.state.routers if r.netconf is not None)


_OTHER_KEY: list[str] = []


@pytest.fixture(autouse=True)
def _other_key(lab: Lab) -> None:
    routers = [r for r in lab.state.routers if r.netconf is not None]
    _OTHER_KEY[:] = [routers[1].netconf.host_key]  # type: ignore[union-attr]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("case", "edit", "reason", "says"),
    [
        (
            "wrong-host-key",  # a real key, but another device's: a man in the middle
            lambda s: {**s, "netconf": {**s["netconf"], "hostKey": _OTHER_KEY[0]}},
            "HostKeyMismatch",
            "host key",
        ),
        (
            "undecodable-host-key",
            lambda s: {**s, "netconf": {**s["netconf"], "hostKey": "ssh-ed25519 AAAAFakeFake"}},
            "InvalidSpec",
            "known host key",
        ),
        (
            "missing-secret",
            lambda s: {**s, "netconf": {**s["netconf"], "credentialsSecretRef": {"name": "nope"}}},
            "CredentialsUnavailable",
            "intentloop-system/nope",
        ),
    ],
)
def test_a_misconfigured_device_says_why_and_is_deleted_cleanly(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    unique: Any,
    case: str,
    edit: Any,
    reason: str,
    says: str,
) -> None:
    name = unique(case)
    _clone(cluster, _netconf_router(lab), name, edit)
    obj = wait_for(lambda: _ready(cluster, name, "False"), timeout=30, what=f"{name} refused")
    cond = _condition(obj, "Ready")
    assert cond is not None and cond["reason"] == reason, cond
    assert says in cond["message"].lower() or says in cond["message"]
    assert "ssh-privatekey" not in str(obj["status"])  # no credential leaks into status
    cluster.custom.delete_cluster_custom_object(GROUP, VERSION, "devices", name)
    wait_for(
        lambda: (
            name
            not in {
                d["metadata"]["name"]
                for d in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "devices")[
                    "items"
                ]
            }
        ),
        timeout=15,
        what=f"{name} deleted",
    )


@pytest.mark.e2e
def test_deleting_a_device_while_the_operator_is_stopped_says_why_it_waits(
    cluster: Cluster, lab: Lab, operator: Operator, unique: Any
) -> None:
    """kopf keeps a finalizer on Devices for their probe, drift and telemetry workers: a
    deletion while the operator is down waits for it. kubectl says so, and how to release
    the Device by hand; the deletion completes once the operator runs again."""
    name = unique("held")
    _clone(cluster, _netconf_router(lab), name, lambda s: s)
    wait_for(
        lambda: (
            "kopf.zalando.org/KopfFinalizerMarker"
            in (
                cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", name)[
                    "metadata"
                ]
            ).get("finalizers", [])
        ),
        timeout=30,
        what=f"{name} held by the operator",
    )
    operator.stop()
    try:
        out = cluster.kubectl("delete", "device", name, "--wait=false")
        assert f"Device {name} is deleted once the intentloop operator" in out.stderr, out
        assert f"kubectl patch device {name} --type=merge" in out.stderr, out
        still = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", name)
        assert still["metadata"].get("deletionTimestamp"), "waiting for the operator"
    finally:
        operator.start_again()

    def gone() -> bool:
        names = cluster.custom.list_cluster_custom_object(GROUP, VERSION, "devices")["items"]
        return name not in {d["metadata"]["name"] for d in names}

    wait_for(gone, timeout=60, what=f"{name} deleted once the operator runs")
