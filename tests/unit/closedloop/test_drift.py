"""Drift: per-leaf deviations of a device's running config from the intended one."""

from __future__ import annotations

from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan, Vrf
from intentloop_intents.drift import Deviation, deviations
from intentloop_intents.resources.operations import DeviceConfigStatus

OWNER = frozenset({"tenant-a/web"})


def intended() -> DeviceConfigTree:
    return DeviceConfigTree(
        interfaces=(
            Interface(name="eth2", mtu=9000, owners=OWNER),
            Interface(name="eth1", description="to r2", owners=OWNER),
        ),
        vlans=(Vlan(vlan_id=100, name="web", owners=OWNER), Vlan(vlan_id=5, owners=OWNER)),
        policers=(Policer(name="web-in", rate_mbps=100, owners=OWNER),),
        vrfs=(Vrf(name="blue", route_target="65000:1", description="tenant a", owners=OWNER),),
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=100, vrf="blue", policer="web-in", owners=OWNER),
        ),
    )


def running(**changes: object) -> DeviceConfigTree:
    return intended().model_copy(update=changes)


def test_the_same_config_in_another_order_has_no_deviation() -> None:
    tree = intended()
    shuffled = DeviceConfigTree(
        interfaces=tuple(reversed(tree.interfaces)),
        vlans=tuple(reversed(tree.vlans)),
        policers=tree.policers,
        vrfs=tree.vrfs,
        subinterfaces=tree.subinterfaces,
    )
    assert deviations(tree, shuffled) == []


def test_a_changed_leaf_is_shown_with_its_path_and_both_values() -> None:
    tree = intended()
    changed = running(
        interfaces=(tree.interfaces[0], tree.interfaces[1].model_copy(update={"description": ""})),
        subinterfaces=(tree.subinterfaces[0].model_copy(update={"policer": None}),),
    )
    assert deviations(tree, changed) == [
        Deviation("interface[eth1]/description", "to r2", '""'),
        Deviation("subinterface[eth1.100]/policer", "web-in", "(unset)"),
    ]


def test_missing_and_unexpected_items_are_whole_deviations_in_key_order() -> None:
    tree = intended()
    changed = running(
        vlans=(tree.vlans[1], Vlan(vlan_id=42, name="rogue"), Vlan(vlan_id=7)),  # 100 gone
        interfaces=(tree.interfaces[1],),  # eth2 gone
    )
    assert deviations(tree, changed) == [
        Deviation("interface[eth2]", "mtu=9000", "(absent)"),
        Deviation("vlan[7]", "(absent)", "(present)"),
        Deviation("vlan[42]", "(absent)", "name=rogue"),
        Deviation("vlan[100]", "name=web", "(absent)"),
    ]


def test_numbers_and_booleans_read_as_they_are_typed() -> None:
    tree = intended()
    changed = running(
        interfaces=(
            tree.interfaces[0].model_copy(update={"mtu": None}),
            tree.interfaces[1].model_copy(update={"enabled": False}),
        ),
        policers=(tree.policers[0].model_copy(update={"rate_mbps": 1000, "burst_kbytes": 50}),),
    )
    assert deviations(tree, changed) == [
        Deviation("interface[eth1]/enabled", "true", "false"),
        Deviation("interface[eth2]/mtu", "9000", "(unset)"),
        Deviation("policer[web-in]/rate-mbps", "100", "1000"),
        Deviation("policer[web-in]/burst-kbytes", "1000", "50"),
    ]


def test_ignored_leaves_are_never_compared() -> None:
    tree = intended()
    changed = running(
        interfaces=(tree.interfaces[0], tree.interfaces[1].model_copy(update={"description": "x"})),
        vrfs=(tree.vrfs[0].model_copy(update={"description": "y", "route_target": "65000:9"}),),
        policers=(tree.policers[0].model_copy(update={"burst_kbytes": 50}),),
    )
    every = {d.path for d in deviations(tree, changed)}
    assert every == {
        "interface[eth1]/description",
        "vrf[blue]/description",
        "vrf[blue]/route-target",
        "policer[web-in]/burst-kbytes",
    }
    assert {d.path for d in deviations(tree, changed, ignore=["description"])} == {
        "vrf[blue]/route-target",
        "policer[web-in]/burst-kbytes",
    }
    scoped = {d.path for d in deviations(tree, changed, ignore=["interface/description"])}
    assert "vrf[blue]/description" in scoped and "interface[eth1]/description" not in scoped
    for spelling in ("burst-kbytes", "burst_kbytes", "policers/burst_kbytes"):
        paths = {d.path for d in deviations(tree, changed, ignore=[spelling])}
        assert "policer[web-in]/burst-kbytes" not in paths, spelling


def test_an_ignored_leaf_is_left_out_of_a_missing_items_summary_too() -> None:
    tree = intended()
    missing = running(vrfs=(), subinterfaces=())
    shown = {d.path: d.intended for d in deviations(tree, missing, ignore=["route-target"])}
    assert shown["vrf[blue]"] == "description=tenant a"
    assert shown["subinterface[eth1.100]"] == "vrf=blue, policer=web-in"


def test_owners_are_bookkeeping_and_compared_only_on_request() -> None:
    tree = intended()
    lost = running(vlans=tuple(v.model_copy(update={"owners": frozenset()}) for v in tree.vlans))

    assert deviations(tree, lost) == []
    assert deviations(tree, lost, compare_owners=True) == [
        Deviation("vlan[5]/owner", "[tenant-a/web]", "[]"),
        Deviation("vlan[100]/owner", "[tenant-a/web]", "[]"),
    ]


def test_deviations_fit_the_device_config_status() -> None:
    found = deviations(intended(), DeviceConfigTree())
    assert len(found) == 7
    status = DeviceConfigStatus.model_validate(
        {"deviations": [d.__dict__ for d in found], "inSync": not found}
    )
    assert status.deviations[0].path == "interface[eth1]"
    assert status.deviations[0].intended == "description=to r2"
