"""A small network and services on it, as the assurance loop would describe them."""

from __future__ import annotations

from intentloop_intents.alarms import DesiredAlarm, Fault, ServiceView
from intentloop_intents.topology import Topology
from tests.unit.intents.networks import L, build

INFRA = "intentloop-system"


def ring() -> Topology:
    """Five routers: r1-r2-r3 (the short way), r1-r4-r3 (the long way), r5 hanging off r3."""
    return build(
        [
            L("r1-r2", "r1:e1", "r2:e1"),
            L("r2-r3", "r2:e2", "r3:e1"),
            L("r1-r4", "r1:e2", "r4:e1"),
            L("r4-r3", "r4:e2", "r3:e2"),
            L("r3-r5", "r3:e3", "r5:e1"),
        ]
    )


def service(
    namespace: str,
    name: str,
    links: tuple[str, ...] = ("r1-r2", "r2-r3"),
    devices: tuple[str, ...] = ("r1", "r2", "r3"),
    *,
    backup: tuple[str, ...] = (),
    sla_violated: bool = False,
    sla_detail: str = "",
    impacted: tuple[str, ...] = (),
) -> ServiceView:
    return ServiceView(
        namespace=namespace,
        name=name,
        path_links=links,
        path_devices=devices,
        backup_links=backup,
        sla_violated=sla_violated,
        sla_detail=sla_detail,
        impacted_links=impacted,
    )


def link_down(name: str, detail: str = "oper-status DOWN") -> Fault:
    return Fault("linkDown", "Link", name, None, detail)


def device_unreachable(name: str, detail: str = "no answer on NETCONF") -> Fault:
    return Fault("deviceUnreachable", "Device", name, None, detail)


def by_key(alarms: list[DesiredAlarm]) -> dict[str, DesiredAlarm]:
    keys = [alarm.key for alarm in alarms]
    assert len(keys) == len(set(keys)), f"one alarm per key: {keys}"
    return {alarm.key: alarm for alarm in alarms}


def assert_consistent(alarms: list[DesiredAlarm]) -> None:
    """Every pointer has its way back: roots list their alarms, alarms name a live root."""
    index = {(a.namespace, a.key): a for a in alarms}
    assert len(index) == len(alarms), "one alarm per (namespace, key)"
    for alarm in alarms:
        assert alarm.is_root_cause == (alarm.root_cause is None)
        if alarm.root_cause is not None:
            root = index[alarm.root_cause]
            assert root.is_root_cause, f"{alarm.key} points at {root.key}, itself correlated"
            assert (alarm.namespace, alarm.key) in root.correlated
        for ref in alarm.correlated:
            assert index[ref].root_cause == (alarm.namespace, alarm.key)
        assert list(alarm.correlated) == sorted(alarm.correlated)
        assert list(alarm.affected_services) == sorted(alarm.affected_services)
    assert [(a.namespace, a.key) for a in alarms] == sorted(index)
