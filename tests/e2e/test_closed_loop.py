"""The closed loop end to end: faults injected in the lab, seen through telemetry, alarms
correlated to their root cause, services re-pathed, drift put right."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import yaml

from intentloop_intents import drift
from intentloop_lab import control
from tests.e2e.conftest import (
    REPO,
    AssignPorts,
    Cluster,
    Lab,
    Operator,
    holds,
    lab_ports,
    running_config,
    service_subinterfaces,
    wait_for,
)

GROUP, VERSION = "intentloop.io", "v1alpha1"
INFRA = "intentloop-system"


def _service(ns: str, name: str, a: str, b: str, port: str = "eth2", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": a, "interface": port}, {"device": b, "interface": port}],
            "bandwidthMbps": 5,
            **spec,
        },
    }


def _apply(cluster: Cluster, *objs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def _svc(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, "networkservices", name)


def _ready(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    obj = _svc(cluster, ns, name)
    return obj if obj.get("status", {}).get("phase") == "Ready" else None


def _alarm(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return cluster.custom.get_namespaced_custom_object(GROUP, VERSION, ns, "alarms", name)
    except kubernetes.client.ApiException:
        return None


class AlarmRecorder:
    """Every state every Alarm passed through, from a watch opened before the fault."""

    def __init__(self, cluster: Cluster) -> None:
        self.seen: list[dict[str, Any]] = []
        self._watch = kubernetes.watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(cluster,), daemon=True)
        self._thread.start()
        time.sleep(0.3)

    def _run(self, cluster: Cluster) -> None:
        try:
            self._follow(cluster)
        except Exception:
            return

    def _follow(self, cluster: Cluster) -> None:
        for event in self._watch.stream(
            cluster.custom.list_cluster_custom_object, GROUP, VERSION, "alarms", timeout_seconds=300
        ):
            self.seen.append(event["object"])

    def states(self, name: str) -> list[dict[str, Any]]:
        return [a.get("status", {}) for a in self.seen if a["metadata"]["name"] == name]

    def stop(self) -> None:
        self._watch.stop()


@pytest.fixture
def alarms_seen(cluster: Cluster) -> Iterator[AlarmRecorder]:
    rec = AlarmRecorder(cluster)
    yield rec
    rec.stop()


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


@pytest.fixture(autouse=True)
def ports(lab: Lab, namespace: str, assign_ports: AssignPorts) -> None:
    """Each test's services run in its own namespace, on lab ports assigned to it."""
    assign_ports(namespace, lab_ports(lab))


@pytest.mark.e2e
def test_a_link_down_under_three_services_is_one_root_cause_and_they_are_repathed(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, alarms_seen: AlarmRecorder
) -> None:
    names = {"s12": ("r1", "r2"), "s62": ("r6", "r2"), "s13": ("r1", "r3")}
    _apply(cluster, *(_service(namespace, n, a, b) for n, (a, b) in names.items()))
    for n in names:
        obj = wait_for(lambda n=n: _ready(cluster, namespace, n), timeout=30, what=f"{n} Ready")
        assert "r1-r2" in obj["status"]["pathLinks"], obj["status"]
    lab.link("r1", "r2", up=False)
    try:
        for n in names:
            obj = wait_for(
                lambda n=n: (
                    (o := _ready(cluster, namespace, n))
                    and "r1-r2" not in o["status"]["pathLinks"]
                    and o
                ),
                timeout=30,
                what=f"{n} re-pathed off r1-r2",
                on_fail=lambda: operator.log.read_text()[-3000:],
            )
            assert obj["status"]["remediations"][-1]["outcome"] == "repathed"
        root = wait_for(
            lambda: _alarm(cluster, INFRA, "link-r1-r2-linkdown"), timeout=10, what="root alarm"
        )
        assert root["status"]["isRootCause"] and root["status"]["state"] == "active"
        assert root["status"]["probableCause"] == "linkDown"
        # While the services were hit, the root cause listed exactly their three alarms,
        # and each service alarm pointed back at the root cause.
        ours = [
            {c["name"] for c in s.get("correlatedAlarms", []) if c.get("namespace") == namespace}
            for s in alarms_seen.states("link-r1-r2-linkdown")
        ]
        assert any(len(group) == 3 for group in ours), ours
        impacted = {
            a["metadata"]["name"]: a
            for a in alarms_seen.seen
            if a["metadata"]["namespace"] == namespace
        }
        assert len(impacted) == 3, sorted(impacted)
        for alarm in impacted.values():
            assert alarm["status"]["rootCauseRef"]["name"] == "link-r1-r2-linkdown"
            assert alarm["status"]["isRootCause"] is False
    finally:
        lab.link("r1", "r2", up=True)
    wait_for(
        lambda: (
            (a := _alarm(cluster, INFRA, "link-r1-r2-linkdown"))
            and a["status"]["state"] == "cleared"
        ),
        timeout=20,
        what="root alarm cleared",
    )
    wait_for(
        lambda: (
            cluster.custom.get_cluster_custom_object(GROUP, VERSION, "links", "r1-r2")["status"][
                "operState"
            ]
            == "up"
        ),
        timeout=30,
        what="Link r1-r2 status up",
    )


@pytest.mark.e2e
def test_latency_above_the_bound_repaths_and_an_unmeetable_bound_stays_degraded(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str
) -> None:
    _apply(
        cluster,
        _service(namespace, "fits", "r1", "r4", port="eth1", sla={"maxLatencyMs": 8}),
        _service(namespace, "tight", "r1", "r4", port="eth2", sla={"maxLatencyMs": 3}),
    )
    for n in ("fits", "tight"):
        obj = wait_for(lambda n=n: _ready(cluster, namespace, n), timeout=30, what=f"{n} Ready")
        assert obj["status"]["pathLinks"] == ["r1-r4"], obj["status"]
    lab.call(control.LinkLatency(a="r1", b="r4", extra_ms=10))
    try:
        fits = wait_for(
            lambda: (
                (o := _ready(cluster, namespace, "fits"))
                and o["status"]["pathLinks"] != ["r1-r4"]
                and o
            ),
            timeout=30,
            what="'fits' re-pathed onto a path within 8 ms",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        assert fits["status"]["measuredLatencyMs"] <= 8
        tight = wait_for(
            lambda: (
                (o := _svc(cluster, namespace, "tight"))["status"].get("phase") == "Degraded" and o
            ),
            timeout=30,
            what="'tight' Degraded",
        )
        ready = next(c for c in tight["status"]["conditions"] if c["type"] == "Ready")
        assert "3 ms" in ready["message"] or "bound" in ready["message"], ready
        attempts = len(tight["status"].get("remediations", []))
        time.sleep(5)  # no oscillation: nothing changed in the network, so no new attempt
        again = _svc(cluster, namespace, "tight")
        assert len(again["status"].get("remediations", [])) == attempts
        assert again["status"]["phase"] == "Degraded"
    finally:
        lab.call(control.LinkLatency(a="r1", b="r4", extra_ms=0))


@pytest.mark.e2e
def test_tampering_is_repaired_or_reported_by_policy(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str
) -> None:
    _apply(
        cluster,
        _service(namespace, "drifty", "r6", "r5", port="eth1"),
        _service(namespace, "drifty3", "r3", "r2", port="eth1"),
    )
    for n in ("drifty", "drifty3"):
        wait_for(lambda n=n: _ready(cluster, namespace, n), timeout=30, what=f"{n} Ready")

    def desired(device: str) -> Any:
        from intentloop_intents.device import DeviceConfigTree

        dc = cluster.custom.get_cluster_custom_object(GROUP, VERSION, "deviceconfigs", device)
        return DeviceConfigTree.model_validate(dc["spec"]["config"]).canonical(), dc

    # repair (r3, NETCONF): put back, counted
    _, before = desired("r3")
    repairs = before.get("status", {}).get("repairs", 0)
    lab.device("r3", "tamper")
    wait_for(
        lambda: desired("r3")[1].get("status", {}).get("repairs", 0) > repairs,
        timeout=30,
        what="r3 repaired",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    running = running_config(lab, "r3")
    assert running == desired("r3")[0], drift.deviations(
        desired("r3")[0], running, compare_owners=True
    )

    # report (r6, gNMI): the device is left alone, the deviation shown, an alarm raised
    cluster.kubectl(
        "patch", "device", "r6", "--type=merge", "-p", '{"spec":{"driftPolicy":"report"}}'
    )
    try:
        time.sleep(1)
        lab.device("r6", "tamper")
        dc = wait_for(
            lambda: (d := desired("r6")[1]).get("status", {}).get("inSync") is False and d,
            timeout=30,
            what="r6 deviation reported",
        )
        assert dc["status"]["deviations"], dc["status"]
        assert running_config(lab, "r6") != holds(lab, "r6", desired("r6")[0])
        alarm = wait_for(
            lambda: _alarm(cluster, INFRA, "device-r6-configurationdrift"),
            timeout=20,
            what="drift alarm",
        )
        assert (
            alarm["status"]["state"] == "active"
            and alarm["status"]["probableCause"] == "configurationDrift"
        )
    finally:
        cluster.kubectl(
            "patch", "device", "r6", "--type=merge", "-p", '{"spec":{"driftPolicy":"repair"}}'
        )
    wait_for(
        lambda: running_config(lab, "r6") == holds(lab, "r6", desired("r6")[0]),
        timeout=30,
        what="r6 repaired after policy change",
    )
    wait_for(
        lambda: (
            (a := _alarm(cluster, INFRA, "device-r6-configurationdrift"))
            and a["status"]["state"] == "cleared"
        ),
        timeout=20,
        what="drift alarm cleared",
    )


@pytest.mark.e2e
def test_a_stopped_device_raises_unreachable_and_its_services_move_away(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str
) -> None:
    _apply(cluster, _service(namespace, "via-r2", "r1", "r3", port="eth1"))
    obj = wait_for(lambda: _ready(cluster, namespace, "via-r2"), timeout=30, what="Ready")
    assert obj["status"]["path"] == ["r1", "r2", "r3"], obj["status"]
    lab.device("r2", "stop")
    try:
        moved = wait_for(
            lambda: (
                (o := _ready(cluster, namespace, "via-r2"))
                and "r2" not in o["status"]["path"]
                and o
            ),
            timeout=40,
            what="re-pathed around r2",
            on_fail=lambda: operator.log.read_text()[-3000:],
        )
        for router in moved["status"]["path"]:
            assert service_subinterfaces(lab, router, namespace, "via-r2"), router
        alarm = wait_for(
            lambda: _alarm(cluster, INFRA, "device-r2-deviceunreachable"),
            timeout=20,
            what="unreachable alarm",
        )
        assert alarm["status"]["isRootCause"] and alarm["status"]["state"] == "active"
    finally:
        lab.device("r2", "start")
    # r2 is back: its alarm clears, and the config the service left on it is removed.
    wait_for(
        lambda: (
            (a := _alarm(cluster, INFRA, "device-r2-deviceunreachable"))
            and a["status"]["state"] == "cleared"
        ),
        timeout=30,
        what="unreachable alarm cleared",
    )
    wait_for(
        lambda: not service_subinterfaces(lab, "r2", namespace, "via-r2"),
        timeout=30,
        what="stale config removed from r2",
    )


@pytest.mark.e2e
def test_a_service_to_a_stopped_device_waits_and_converges_when_it_returns(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str
) -> None:
    lab.device("r6", "stop")
    try:
        wait_for(
            lambda: (
                not cluster.custom.get_cluster_custom_object(GROUP, VERSION, "devices", "r6")
                .get("status", {})
                .get("reachable")
            ),
            timeout=40,
            what="r6 unreachable",
        )
        _apply(cluster, _service(namespace, "to-r6", "r1", "r6", port="eth1"))
        waiting = wait_for(
            lambda: (
                (o := _svc(cluster, namespace, "to-r6")).get("status", {}).get("phase") == "Failed"
                and o
            ),
            timeout=30,
            what="Failed while r6 is down",
        )
        ready = next(c for c in waiting["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "EndpointUnreachable", ready
    finally:
        lab.device("r6", "start")
    wait_for(
        lambda: _ready(cluster, namespace, "to-r6"),
        timeout=60,
        what="Ready once r6 is back",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    assert service_subinterfaces(lab, "r6", namespace, "to-r6")


def _about(record: dict[str, Any], namespace: str, name: str) -> bool:
    """Whether a Transaction record changed this service (alone, or in a batch)."""
    ref = record["spec"].get("intentRef") or {}
    batch = record["metadata"].get("annotations", {}).get("intentloop.io/intents", "")
    return ref.get("name") == name or f"{namespace}/{name}" in batch.split(",")


@pytest.mark.e2e
def test_a_flapping_link_causes_a_bounded_number_of_repaths(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str
) -> None:
    _apply(cluster, _service(namespace, "flappy", "r5", "r4", port="eth1"))
    obj = wait_for(lambda: _ready(cluster, namespace, "flappy"), timeout=30, what="Ready")
    assert obj["status"]["pathLinks"] == ["r4-r5"], obj["status"]
    for _ in range(10):
        lab.link("r4", "r5", up=False)
        time.sleep(0.5)
        lab.link("r4", "r5", up=True)
        time.sleep(0.5)
    time.sleep(4)
    final = wait_for(
        lambda: _ready(cluster, namespace, "flappy"), timeout=30, what="Ready after flapping"
    )
    records = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, "transactions"
    )["items"]
    changes = [t for t in records if _about(t, namespace, "flappy")]
    assert len(final["status"].get("remediations", [])) <= 4, final["status"]["remediations"]
    assert len(changes) <= 5, [t["metadata"]["name"] for t in changes]
    for router in final["status"]["path"]:
        assert service_subinterfaces(lab, router, namespace, "flappy"), router
