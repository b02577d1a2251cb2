"""Alarm correlation on the topology: one root cause, its consequences underneath."""

from __future__ import annotations

import itertools
import random

from intentloop_intents.alarms import Fault, desired_alarms
from tests.unit.closedloop.scenarios import (
    INFRA,
    assert_consistent,
    by_key,
    device_unreachable,
    link_down,
    ring,
    service,
)
from tests.unit.intents.networks import build, random_links


def test_a_link_down_under_three_services_is_one_root_cause_with_three_service_alarms() -> None:
    topology = ring()
    topology.set_link_state("r1-r2", oper_up=False)
    services = [service("tenant-a", "web"), service("tenant-a", "db"), service("tenant-b", "voip")]

    alarms = desired_alarms([link_down("r1-r2")], services, topology)

    assert_consistent(alarms)
    found = by_key(alarms)
    assert set(found) == {
        "link-r1-r2-linkdown",
        "service-web-serviceimpacted",
        "service-db-serviceimpacted",
        "service-voip-serviceimpacted",
    }
    root = found["link-r1-r2-linkdown"]
    assert root.is_root_cause and root.namespace == INFRA
    assert root.probable_cause == "linkDown" and root.alarm_type == "communicationsAlarm"
    assert root.source == ("Link", "r1-r2", None)
    assert root.correlated == (
        ("tenant-a", "service-db-serviceimpacted"),
        ("tenant-a", "service-web-serviceimpacted"),
        ("tenant-b", "service-voip-serviceimpacted"),
    )
    assert root.affected_services == (("tenant-a", "db"), ("tenant-a", "web"), ("tenant-b", "voip"))
    voip = found["service-voip-serviceimpacted"]
    assert voip.namespace == "tenant-b"  # the tenant sees its own alarm
    assert voip.root_cause == (INFRA, "link-r1-r2-linkdown")
    assert not voip.is_root_cause
    assert voip.perceived_severity == "critical"
    assert voip.source == ("NetworkService", "voip", "tenant-b")
    assert voip.affected_services == (("tenant-b", "voip"),)
    assert "link r1-r2 (down)" in voip.specific_problem


def test_a_service_off_the_broken_link_gets_no_alarm() -> None:
    topology = ring()
    topology.set_link_state("r1-r2", oper_up=False)
    detour = service("tenant-a", "web", ("r1-r4", "r4-r3"), ("r1", "r4", "r3"))

    alarms = desired_alarms([link_down("r1-r2")], [detour], topology)

    assert [a.key for a in alarms] == ["link-r1-r2-linkdown"]
    assert alarms[0].affected_services == () and alarms[0].correlated == ()


def test_a_down_link_counts_whether_reported_as_a_fault_or_seen_in_the_topology() -> None:
    only_fault = desired_alarms([link_down("r1-r2", "LOS")], [], ring())
    seen = ring()
    seen.set_link_state("r1-r2", oper_up=False)
    only_topology = desired_alarms([], [], seen)

    assert [a.key for a in only_fault] == [a.key for a in only_topology] == ["link-r1-r2-linkdown"]
    assert "LOS" in only_fault[0].specific_problem


def test_an_unreachable_device_is_the_root_cause_of_its_links_and_their_services() -> None:
    topology = ring()
    topology.upsert_device("r2", reachable=False)
    for name in ("r1-r2", "r2-r3"):
        topology.set_link_state(name, oper_up=False)
    faults = [device_unreachable("r2"), link_down("r1-r2"), link_down("r2-r3")]

    alarms = desired_alarms(faults, [service("tenant-a", "web")], topology)

    assert_consistent(alarms)
    found = by_key(alarms)
    device = found["device-r2-deviceunreachable"]
    assert device.is_root_cause and device.perceived_severity == "critical"
    assert device.correlated == (
        (INFRA, "link-r1-r2-linkdown"),
        (INFRA, "link-r2-r3-linkdown"),
        ("tenant-a", "service-web-serviceimpacted"),
    )
    for key in ("link-r1-r2-linkdown", "link-r2-r3-linkdown"):
        assert not found[key].is_root_cause
        assert found[key].root_cause == (INFRA, "device-r2-deviceunreachable")
        assert "device r2" in found[key].specific_problem
    # The service points at the device, not at a link that is itself a consequence.
    assert found["service-web-serviceimpacted"].root_cause == (INFRA, "device-r2-deviceunreachable")
    assert device.affected_services == (("tenant-a", "web"),)


def test_a_device_whose_every_link_is_down_is_the_root_cause_even_if_still_managed() -> None:
    topology = ring()
    for name in ("r1-r2", "r2-r3"):
        topology.set_link_state(name, oper_up=False)

    alarms = desired_alarms([], [service("tenant-a", "web")], topology)

    assert_consistent(alarms)
    found = by_key(alarms)
    device = found["device-r2-deviceunreachable"]
    assert device.is_root_cause
    assert "isolated: all 2 links down (r1-r2, r2-r3)" in device.specific_problem
    assert found["link-r1-r2-linkdown"].root_cause == device.ref
    assert found["service-web-serviceimpacted"].root_cause == device.ref


def test_a_single_link_down_at_a_leaf_device_is_the_links_fault_not_the_devices() -> None:
    topology = ring()
    topology.set_link_state("r3-r5", oper_up=False)

    alarms = desired_alarms([], [], topology)

    assert [a.key for a in alarms] == ["link-r3-r5-linkdown"]
    assert alarms[0].is_root_cause


def test_an_unreachable_device_with_its_links_still_up_impacts_the_services_crossing_it() -> None:
    topology = ring()
    topology.upsert_device("r2", reachable=False)

    found = by_key(desired_alarms([], [service("tenant-a", "web")], topology))

    assert set(found) == {"device-r2-deviceunreachable", "service-web-serviceimpacted"}
    assert (
        found["service-web-serviceimpacted"].root_cause == found["device-r2-deviceunreachable"].ref
    )


def test_an_sla_violation_without_a_fault_on_the_path_is_its_own_root_cause() -> None:
    slow = service("tenant-a", "voip", sla_violated=True, sla_detail="latency 31.0 ms > 20 ms")

    alarms = desired_alarms([], [slow], ring())

    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm.key == "service-voip-slaviolation" and alarm.namespace == "tenant-a"
    assert alarm.is_root_cause and alarm.root_cause is None and alarm.correlated == ()
    assert alarm.probable_cause == "slaViolation"
    assert alarm.alarm_type == "qualityOfServiceAlarm"
    assert alarm.specific_problem == "latency 31.0 ms > 20 ms"
    assert alarm.affected_services == (("tenant-a", "voip"),)


def test_an_sla_violation_with_a_fault_on_the_path_is_correlated_to_that_fault() -> None:
    topology = ring()
    topology.set_link_state("r2-r3", oper_up=False)
    broken = service("tenant-a", "voip", sla_violated=True, sla_detail="path down")

    alarms = desired_alarms([], [broken], topology)

    assert_consistent(alarms)
    found = by_key(alarms)
    sla = found["service-voip-slaviolation"]
    assert not sla.is_root_cause and sla.root_cause == (INFRA, "link-r2-r3-linkdown")
    assert "likely cause: link r2-r3 (down)" in sla.specific_problem
    assert found["link-r2-r3-linkdown"].correlated == (
        ("tenant-a", "service-voip-serviceimpacted"),
        ("tenant-a", "service-voip-slaviolation"),
    )


def test_a_service_moved_off_a_broken_link_blames_it_for_its_slower_path() -> None:
    topology = ring()
    topology.set_link_state("r1-r2", oper_up=False)
    moved = service(
        "tenant-a",
        "voip",
        ("r1-r4", "r4-r3"),
        ("r1", "r4", "r3"),
        sla_violated=True,
        sla_detail="latency 25.0 ms > 20 ms",
        impacted=("r1-r2",),
    )

    found = by_key(desired_alarms([], [moved], topology))

    assert set(found) == {"link-r1-r2-linkdown", "service-voip-slaviolation"}  # not impacted
    assert found["service-voip-slaviolation"].root_cause == (INFRA, "link-r1-r2-linkdown")


def test_protection_decides_how_bad_an_impact_is() -> None:
    topology = ring()
    protected = ("r1-r4", "r4-r3")
    topology.set_link_state("r1-r2", oper_up=False)
    working_down = by_key(desired_alarms([], [service("t", "s", backup=protected)], topology))
    topology.set_link_state("r4-r3", oper_up=False)
    both_down = by_key(desired_alarms([], [service("t", "s", backup=protected)], topology))
    topology.set_link_state("r1-r2", oper_up=True)
    backup_down = by_key(desired_alarms([], [service("t", "s", backup=protected)], topology))

    impacted = "service-s-serviceimpacted"
    assert working_down[impacted].perceived_severity == "major"
    assert "protection path intact" in working_down[impacted].specific_problem
    assert both_down[impacted].perceived_severity == "critical"
    assert backup_down[impacted].perceived_severity == "warning"
    assert "unprotected" in backup_down[impacted].specific_problem
    assert backup_down[impacted].root_cause == (INFRA, "link-r4-r3-linkdown")


def test_a_service_crossing_two_faults_points_at_the_device_and_names_both() -> None:
    topology = ring()
    topology.set_link_state("r1-r2", oper_up=False)
    topology.upsert_device("r3", reachable=False)

    found = by_key(desired_alarms([], [service("t", "s")], topology))

    alarm = found["service-s-serviceimpacted"]
    assert alarm.root_cause == (INFRA, "device-r3-deviceunreachable")
    assert "link r1-r2 (down)" in alarm.specific_problem
    assert "device r3 (unreachable)" in alarm.specific_problem
    # Both faults affect the service; only the one it points at lists its alarm.
    assert found["link-r1-r2-linkdown"].affected_services == (("t", "s"),)
    assert found["link-r1-r2-linkdown"].correlated == ()


def test_drift_and_failed_transactions_are_root_causes_in_the_right_namespace() -> None:
    faults = [
        Fault("drift", "Device", "r2", None, "interface[eth1]/mtu: 1500 -> 9000"),
        Fault("transactionFailed", "NetworkService", "web", "tenant-a", "r3 refused the commit"),
    ]
    services = [service("tenant-a", "web"), service("tenant-b", "far", ("r3-r5",), ("r3", "r5"))]

    found = by_key(desired_alarms(faults, services, ring(), infra_namespace="ops"))

    drift = found["device-r2-configurationdrift"]
    assert drift.namespace == "ops" and drift.is_root_cause
    assert drift.alarm_type == "processingErrorAlarm" and drift.perceived_severity == "minor"
    assert drift.affected_services == (("tenant-a", "web"),)  # "far" does not cross r2
    assert "interface[eth1]/mtu" in drift.specific_problem
    failed = found["service-web-transactionfailed"]
    assert failed.namespace == "tenant-a" and failed.affected_services == (("tenant-a", "web"),)
    assert len(found) == 2  # neither fault makes a service alarm of its own


def test_the_same_fault_reported_twice_is_one_alarm_with_both_details() -> None:
    faults = [link_down("r1-r2", "LOS at r1"), link_down("r1-r2", "LOS at r2"), link_down("r1-r2")]

    alarms = desired_alarms(faults, [], ring())

    assert len(alarms) == 1
    assert "LOS at r1" in alarms[0].specific_problem
    assert "LOS at r2" in alarms[0].specific_problem


def test_the_answer_does_not_depend_on_the_order_things_were_reported_in() -> None:
    faults = [
        link_down("r1-r2"),
        device_unreachable("r5"),
        Fault("drift", "Device", "r4", None, "x"),
    ]
    services = [
        service("a", "one", sla_violated=True, sla_detail="slow"),
        service("b", "two", ("r3-r5",), ("r3", "r5")),
        service("a", "three", ("r1-r4", "r4-r3"), ("r1", "r4", "r3"), sla_violated=True),
    ]
    answers = {
        repr(desired_alarms(list(f), list(s), ring()))
        for f in itertools.permutations(faults)
        for s in itertools.permutations(services)
    }
    assert len(answers) == 1


def test_correlation_stays_consistent_on_random_networks_and_failures() -> None:
    """Whatever fails, pointers and back-pointers agree and every key is unique."""
    for seed in range(40):
        rng = random.Random(seed)
        topology = build(random_links(rng, nodes=12, extra=8))
        links = [link.name for link in topology.links()]
        for name in rng.sample(links, rng.randrange(len(links) // 2)):
            topology.set_link_state(name, oper_up=False)
        faults = [device_unreachable(f"n{i}") for i in rng.sample(range(12), rng.randrange(3))]
        services = []
        for index in range(rng.randrange(1, 8)):
            path = tuple(rng.sample(links, rng.randrange(1, 4)))
            backup = tuple(rng.sample(links, rng.randrange(0, 3)))
            services.append(
                service(
                    f"t{index % 3}",
                    f"s{index}",
                    path,
                    (),
                    backup=backup,
                    sla_violated=rng.random() < 0.4,
                )
            )
        alarms = desired_alarms(faults, services, topology)
        assert_consistent(alarms)
        for alarm in alarms:
            if alarm.probable_cause in ("serviceImpacted", "slaViolation"):
                assert alarm.namespace == alarm.source[2]
            else:
                assert alarm.namespace == INFRA
