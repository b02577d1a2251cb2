"""A network of routers without gNMI: Link status follows NETCONF notifications end to end.

A second lab, two NETCONF routers whose telemetry goes over NETCONF notifications only, is
put into the cluster with the lab's own inventory (Devices without `gnmi`); a link failed
in that lab must show on its Link, as it would for routers that stream over gNMI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from intentloop_lab import control, inventory, labstate, lifecycle
from tests.e2e.conftest import Cluster, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"


class NetconfOnlyLab:
    def __init__(self, state: labstate.LabState, a: str, b: str) -> None:
        self.state, self.a, self.b = state, a, b
        self.link_name = f"{a}-{b}"

    def link(self, *, up: bool) -> None:
        control.call(self.state.socket, control.LinkAdmin(a=self.a, b=self.b, up=up))


@pytest.fixture
def netconf_only_lab(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, unique: Callable[[str], str]
) -> Iterator[NetconfOnlyLab]:
    tmp_path = tmp_path_factory.mktemp("nco")  # short: UNIX socket paths live under it
    a, b = unique("na"), unique("nb")
    topology = tmp_path / "topology.yaml"
    topology.write_text(
        f"name: {unique('nc-only')}\n"
        "routers:\n"
        f"  - {{name: {a}, platform: netconf, telemetry: netconf, ports: [eth1]}}\n"
        f"  - {{name: {b}, platform: netconf, telemetry: netconf, ports: [eth1]}}\n"
        "links:\n"
        f"  - {{a: {a}, b: {b}, capacityMbps: 1000, latencyMs: 4}}\n"
    )
    lifecycle.start(tmp_path / "state", topology)
    try:
        state = labstate.read_state(tmp_path / "state")
        assert state is not None
        objects = inventory.render(state)
        cluster.kubectl("apply", "-f", "-", input=objects)
        try:
            yield NetconfOnlyLab(state, a, b)
        finally:
            cluster.kubectl("delete", "-f", "-", "--wait=false", input=objects, check=False)
    finally:
        lifecycle.stop(tmp_path / "state")


def _link_status(cluster: Cluster, name: str) -> dict[str, Any]:
    try:
        obj = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "links", name)
    except kubernetes.client.ApiException:
        return {}
    status: dict[str, Any] = obj.get("status") or {}
    return status


@pytest.mark.e2e
def test_a_link_between_routers_without_gnmi_follows_their_notifications(
    cluster: Cluster, operator: Operator, netconf_only_lab: NetconfOnlyLab
) -> None:
    lab, name = netconf_only_lab, netconf_only_lab.link_name
    devices = [
        cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", r.name)
        for r in lab.state.routers
    ]
    assert all("gnmi" not in d["spec"] for d in devices)
    status = wait_for(
        lambda: (s := _link_status(cluster, name)).get("operState") == "up" and s,
        timeout=30,
        what=f"Link {name} up from NETCONF telemetry",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    assert status["measuredLatencyMs"] == pytest.approx(4.0, abs=0.5)  # probe-measured
    lab.link(up=False)
    try:
        wait_for(
            lambda: _link_status(cluster, name).get("operState") == "down",
            timeout=15,
            what=f"Link {name} down after the lab failed it",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
    finally:
        lab.link(up=True)
    wait_for(
        lambda: _link_status(cluster, name).get("operState") == "up",
        timeout=15,
        what=f"Link {name} up again",
    )
