"""`lab inventory`: Devices, Links and Secrets that the operator's own models accept."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from intentloop_intents.resources.inventory import DeviceSpec, LinkSpec
from intentloop_lab import inventory, labstate

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"
CA = "-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----\n"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbFrsVlnYWyNNwnBSSPH4Cu"


@pytest.fixture
def state(tmp_path: Path) -> labstate.LabState:
    (tmp_path / "ca.crt").write_text(CA)
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "pw1").write_text("secret-one")
    (tmp_path / "pw2").write_text("secret-two")

    def gnmi(port: int, pw: str, config: bool) -> labstate.GnmiAccess:
        return labstate.GnmiAccess(
            port=port,
            serves_config=config,
            username="intentloop",
            password_file=tmp_path / pw,
            ca_file=tmp_path / "ca.crt",
        )

    return labstate.LabState(
        topology="tri",
        daemon_pid=1,
        state_dir=tmp_path,
        socket=tmp_path / "control.sock",
        log_file=tmp_path / "lab.log",
        ca_file=tmp_path / "ca.crt",
        routers=(
            labstate.RouterInfo(
                name="r1",
                platform="netconf",
                site="lab-a",
                role="core",
                software_version="x",
                interfaces=("eth1", "eth2"),
                core_interfaces=("core-r2",),
                netconf=labstate.NetconfAccess(
                    port=40001,
                    host_key=HOST_KEY,
                    username="root",
                    private_key_file=tmp_path / "key",
                ),
                gnmi=gnmi(40002, "pw1", False),
            ),
            labstate.RouterInfo(
                name="r2",
                platform="gnmi",
                model="openconfig",
                site="lab-b",
                role="edge",
                software_version="x",
                interfaces=("eth1",),
                core_interfaces=("core-r1",),
                gnmi=gnmi(40003, "pw2", True),
            ),
        ),
        links=(
            labstate.LinkInfo(
                name="r1-r2",
                a="r1",
                a_interface="core-r2",
                b="r2",
                b_interface="core-r1",
                capacity_mbps=1000,
                latency_ms=2,
                cost=10,
                srlgs=("duct-1",),
            ),
        ),
    )


def parsed(state: labstate.LabState) -> list[dict]:  # type: ignore[type-arg]
    return list(yaml.safe_load_all(inventory.render(state)))


def test_every_device_and_link_fits_the_operators_models(state: labstate.LabState) -> None:
    docs = parsed(state)
    devices = [d for d in docs if d["kind"] == "Device"]
    links = [d for d in docs if d["kind"] == "Link"]
    assert [d["metadata"]["name"] for d in devices] == ["r1", "r2"]
    for doc in devices:
        assert doc["apiVersion"] == "intentloop.io/v1alpha1"
        assert "namespace" not in doc["metadata"]  # cluster-scoped
        DeviceSpec.model_validate(doc["spec"])
    assert [d["metadata"]["name"] for d in links] == ["r1-r2"]
    spec = LinkSpec.model_validate(links[0]["spec"])
    assert (spec.a.device, spec.a.interface, spec.b.interface) == ("r1", "core-r2", "core-r1")
    assert spec.srlgs == ["duct-1"]


def test_only_netconf_routers_get_a_netconf_endpoint(state: labstate.LabState) -> None:
    devices = {d["metadata"]["name"]: d["spec"] for d in parsed(state) if d["kind"] == "Device"}
    assert devices["r1"]["netconf"]["port"] == 40001
    assert devices["r1"]["netconf"]["hostKey"] == HOST_KEY
    assert "netconf" not in devices["r2"]
    assert devices["r1"]["gnmi"]["port"] == 40002  # telemetry, on every router
    assert devices["r2"]["gnmi"]["tls"]["serverName"] == "localhost"
    assert devices["r2"]["gnmi"]["insecure"] is False


def test_every_secret_a_device_names_is_in_the_output(state: labstate.LabState) -> None:
    docs = parsed(state)
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    first_device = next(i for i, d in enumerate(docs) if d["kind"] == "Device")
    assert all(d["kind"] == "Secret" for d in docs[:first_device])  # applied before Devices
    for doc in (d for d in docs if d["kind"] == "Device"):
        refs = [
            doc["spec"]["gnmi"]["credentialsSecretRef"],
            doc["spec"]["gnmi"]["tls"]["caSecretRef"],
        ]
        if "netconf" in doc["spec"]:
            refs.append(doc["spec"]["netconf"]["credentialsSecretRef"])
        for ref in refs:
            assert ref["namespace"] == "intentloop-system"
            assert ref["name"] in secrets


def test_secrets_carry_the_real_credentials(state: labstate.LabState) -> None:
    secrets = {d["metadata"]["name"]: d for d in parsed(state) if d["kind"] == "Secret"}
    ssh = secrets["r1-credentials"]
    assert ssh["type"] == "kubernetes.io/ssh-auth"
    assert ssh["stringData"] == {"username": "root", "ssh-privatekey": KEY}
    assert secrets["r1-gnmi-credentials"]["stringData"]["password"] == "secret-one"
    basic = secrets["r2-credentials"]
    assert basic["type"] == "kubernetes.io/basic-auth"
    assert basic["stringData"] == {"username": "intentloop", "password": "secret-two"}
    assert secrets["intentloop-lab-ca"]["stringData"]["ca.crt"] == CA


def test_keys_are_printed_as_readable_blocks(state: labstate.LabState) -> None:
    text = inventory.render(state)
    assert "ssh-privatekey: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    abc\n" in text


def test_the_namespace_can_be_chosen(state: labstate.LabState) -> None:
    docs = list(yaml.safe_load_all(inventory.render(state, namespace="netops")))
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] == "Secret"} == {"netops"}
    device = next(d for d in docs if d["kind"] == "Device")
    assert device["spec"]["gnmi"]["credentialsSecretRef"]["namespace"] == "netops"


def test_the_rendered_inventory_names_each_routers_configuration_model(
    state: labstate.LabState,
) -> None:
    devices = {d["metadata"]["name"]: d["spec"] for d in parsed(state) if d["kind"] == "Device"}
    assert devices["r1"]["model"] == "intentloop"
    assert devices["r2"]["model"] == "openconfig"
    assert DeviceSpec.model_validate(devices["r2"]).model == "openconfig"


def test_the_default_lab_mixes_netconf_intentloop_routers_and_openconfig_gnmi_routers() -> None:
    from intentloop_lab.topology import default_topology, parse_topology

    models = {r.name: (r.platform, r.config_model) for r in default_topology().routers}
    assert set(models.values()) == {("netconf", "intentloop"), ("gnmi", "openconfig")}
    kept = parse_topology("routers:\n  - {name: g1, platform: gnmi, model: intentloop}\n")
    assert kept.routers[0].config_model == "intentloop"
    with pytest.raises(ValueError, match=r"routers\[n1\]\.model"):
        parse_topology("routers:\n  - {name: n1, platform: netconf, model: openconfig}\n")
