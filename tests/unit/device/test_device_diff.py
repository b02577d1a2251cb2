"""The human-readable diff both adapters and the operator show."""

from __future__ import annotations

from intentloop_intents.device import DeviceConfigTree, Interface, SubInterface, Vlan
from intentloop_intents.device.diff import Change, ChangeKind, diff_trees, render_changes

BEFORE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", mtu=1500, owners=frozenset({"b/2", "a/1"})),),
    vlans=(Vlan(vlan_id=100), Vlan(vlan_id=7)),
    subinterfaces=(SubInterface(parent="eth1", vlan_id=100),),
)


def test_equal_trees_have_no_changes_whatever_their_order() -> None:
    reordered = BEFORE.model_copy(update={"vlans": BEFORE.vlans[::-1]})
    assert diff_trees(BEFORE, reordered) == []
    assert render_changes([]) == ""


def test_each_change_names_the_item_by_key_and_the_field_with_old_and_new_values() -> None:
    after = DeviceConfigTree(
        interfaces=(
            Interface(name="eth1", description="new", owners=frozenset({"a/1"})),
            Interface(name="eth2"),
        ),
        vlans=(Vlan(vlan_id=7),),
        subinterfaces=(SubInterface(parent="eth1", vlan_id=100, description="x"),),
    )
    assert render_changes(diff_trees(BEFORE, after)).splitlines() == [
        "~ interfaces[eth1].description: '' -> 'new'",
        "~ interfaces[eth1].mtu: 1500 -> (unset)",
        "~ interfaces[eth1].owners: [a/1, b/2] -> [a/1]",
        "+ interfaces[eth2]",
        "- vlans[100]",
        "~ subinterfaces[eth1.100].description: '' -> 'x'",
    ]


def test_changes_are_data_for_the_operator_not_only_text() -> None:
    [change] = diff_trees(BEFORE, BEFORE.model_copy(update={"vlans": (Vlan(vlan_id=100),)}))
    assert change == Change(kind=ChangeKind.REMOVED, collection="vlans", key="7")


def test_a_changed_address_or_route_set_is_a_field_change_people_can_read() -> None:
    from intentloop_intents.drift import Deviation, deviations
    from tests.unit.device.l3_trees import L3, with_address, with_routes

    desired = with_address(with_routes(L3, ("10.2.2.0/24", "169.254.0.3")), "eth2.7", None)
    assert render_changes(diff_trees(L3, desired)).splitlines() == [
        "~ vrfs[vpn-a].static_routes: [10.2.2.0/24 via 169.254.0.1, 10.3.3.0/24 via "
        "169.254.0.1] -> [10.2.2.0/24 via 169.254.0.3]",
        "~ subinterfaces[eth2.7].ipv4: '169.254.0.0/31' -> (unset)",
    ]
    assert deviations(intended=L3, running=desired) == [
        Deviation(
            "vrf[vpn-a]/static-route",
            "[10.2.2.0/24 via 169.254.0.1, 10.3.3.0/24 via 169.254.0.1]",
            "[10.2.2.0/24 via 169.254.0.3]",
        ),
        Deviation("subinterface[eth2.7]/ipv4", "169.254.0.0/31", "(unset)"),
    ]
    assert deviations(intended=L3, running=with_routes(L3))[0].actual == "[]"
