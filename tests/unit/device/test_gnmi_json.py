"""The gNMI JSON_IETF codec and the minimal edits between two device trees."""

from __future__ import annotations

import json

import pytest

from intentloop_intents.device import (
    DeviceConfigTree,
    Interface,
    Policer,
    SubInterface,
    Vlan,
    Vrf,
)
from intentloop_intents.device.gnmi_json import (
    Edit,
    GnmiJsonError,
    edits_between,
    path_to_string,
    render_edits,
    tree_from_json,
    tree_to_json,
)
from tests.unit.device.l3_trees import L3, with_address, with_routes

HOSTILE = [
    'quote " and \\ backslash',
    "]bracket[name=x] /slash",
    "line\nbreak\r\ttab",
    "</device><device>",
    '{"interface": []}',
    "emoji 🛰️ and accents éàü and CJK 路由器",
    "\u202eright-to-left override",
    "",
]

FULL = DeviceConfigTree(
    interfaces=(
        Interface(name="eth2", enabled=False, description="core", mtu=9000, owners={"b/s", "a/s"}),
        Interface(name="eth1"),
    ),
    vlans=(Vlan(vlan_id=4094, name="top"), Vlan(vlan_id=1)),
    policers=(Policer(name="p1", rate_mbps=400_000, burst_kbytes=1),),
    vrfs=(Vrf(name="blue", route_target="65000:1", description="vpn"),),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=10, vrf="blue", policer="p1", owners={"t/x"}),
        SubInterface(parent="eth1", vlan_id=9),
        SubInterface(parent="eth2", vlan_id=9, l2_instance="svc-t.a"),
    ),
)


def test_a_full_tree_survives_the_round_trip_through_json() -> None:
    wire = json.loads(json.dumps(tree_to_json(FULL)))
    assert tree_from_json(wire) == FULL.canonical()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_round_trip_as_data_and_never_change_the_structure(text: str) -> None:
    tree = DeviceConfigTree(
        interfaces=(Interface(name="eth1", description=text),),
        vlans=(Vlan(vlan_id=7, name=text[:64]),),
        vrfs=(Vrf(name="v", route_target=text[:64], description=text),),
    )
    body = tree_to_json(tree)
    assert set(body) == {"interface", "vlan", "vrf"}
    assert body["interface"] == [
        {"name": "eth1", "enabled": True, "description": text, "owner": []}
    ]
    assert tree_from_json(json.loads(json.dumps(body, ensure_ascii=False))) == tree.canonical()


def test_the_wire_form_follows_rfc7951_and_leaves_out_what_is_unset() -> None:
    body = tree_to_json(FULL)
    assert body["interface"][0] == {"name": "eth1", "enabled": True, "description": "", "owner": []}
    assert body["interface"][1]["owner"] == ["a/s", "b/s"]  # sorted: stable diffs
    assert body["subinterface"][0] == {
        "parent": "eth1",
        "vlan-id": 9,
        "description": "",
        "owner": [],
    }
    assert isinstance(body["vlan"][0]["vlan-id"], int)  # uint16 is a JSON number
    assert tree_to_json(DeviceConfigTree()) == {}


def test_a_device_reply_in_either_json_ietf_form_is_read() -> None:
    qualified = {"intentloop-device:device": {"vlan": [{"vlan-id": 3}]}}
    assert tree_from_json(qualified) == DeviceConfigTree(vlans=(Vlan(vlan_id=3),))
    members = {"intentloop-device:vlan": [{"vlan-id": 3}]}
    assert tree_from_json(members) == DeviceConfigTree(vlans=(Vlan(vlan_id=3),))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"router": []}, "unknown node 'router'"),
        ({"vlan": {"vlan-id": 1}}, "/vlan: expected a JSON array"),
        ({"vlan": [{"name": "no key"}]}, r"vlan\[0\]: missing key 'vlan-id'"),
        ({"vlan": [{"vlan-id": 5000}]}, r"vlan\[0\]: vlan_id"),
        ({"interface": [{"name": "e", "speed": 1}]}, "unknown node 'speed'"),
        ({"policer": [{"name": "p"}]}, "missing mandatory node 'rate-mbps'"),
        ({"subinterface": [{"parent": "e", "vlan-id": 1, "vrf": "nope"}]}, "unknown 'nope'"),
    ],
)
def test_a_reply_the_model_cannot_hold_is_refused_with_its_location(
    body: dict[str, object], message: str
) -> None:
    with pytest.raises(GnmiJsonError, match=message):
        tree_from_json(body)


# --- edits ----------------------------------------------------------------------------------
def test_equal_trees_need_no_edits_whatever_their_order() -> None:
    shuffled = FULL.model_copy(update={"vlans": tuple(reversed(FULL.vlans))})
    assert edits_between(FULL, shuffled) == ()
    assert render_edits(edits_between(FULL, shuffled)) == ""


def test_one_changed_leaf_is_one_leaf_update() -> None:
    desired = FULL.model_copy(
        update={"policers": (Policer(name="p1", rate_mbps=10, burst_kbytes=1),)}
    )
    leaf = (("policer", (("name", "p1"),)), ("rate-mbps", ()))
    assert edits_between(FULL, desired) == (Edit("update", leaf, 10),)


def test_unset_leaves_and_emptied_owners_are_deleted_and_owner_sets_replaced() -> None:
    before = DeviceConfigTree(interfaces=(Interface(name="eth1", mtu=1500, owners={"a/x"}),))
    after = DeviceConfigTree(interfaces=(Interface(name="eth1"),))
    assert render_edits(edits_between(before, after)).splitlines() == [
        "delete /intentloop-device:device/interface[name=eth1]/mtu",
        "delete /intentloop-device:device/interface[name=eth1]/owner",
    ]
    shared = DeviceConfigTree(interfaces=(Interface(name="eth1", owners={"a/x", "b/y"}),))
    assert render_edits(edits_between(after, shared)) == (
        'replace /intentloop-device:device/interface[name=eth1]/owner: ["a/x", "b/y"]'
    )


def test_new_entries_are_replaced_whole_and_removed_ones_deleted_deletes_first() -> None:
    before = DeviceConfigTree(vlans=(Vlan(vlan_id=1),))
    after = DeviceConfigTree(subinterfaces=(SubInterface(parent="eth1", vlan_id=2),))
    edits = edits_between(before, after)
    assert [e.op for e in edits] == ["delete", "replace"]
    assert path_to_string(edits[0].path) == "/intentloop-device:device/vlan[vlan-id=1]"
    assert path_to_string(edits[1].path) == (
        "/intentloop-device:device/subinterface[parent=eth1][vlan-id=2]"
    )
    assert edits[1].value == {"parent": "eth1", "vlan-id": 2, "description": "", "owner": []}


def test_the_native_diff_is_one_line_per_edit_even_with_a_hostile_description() -> None:
    before = DeviceConfigTree(interfaces=(Interface(name="eth1"),))
    after = DeviceConfigTree(
        interfaces=(Interface(name="eth1", description="a\ndelete /intentloop-device:device"),)
    )
    lines = render_edits(edits_between(before, after)).splitlines()
    assert lines == [
        "update /intentloop-device:device/interface[name=eth1]/description: "
        '"a\\ndelete /intentloop-device:device"'
    ]


def test_key_values_are_escaped_in_path_strings() -> None:
    path = (("vrf", (("name", "a]b\\c"),)),)
    assert path_to_string(path) == "/intentloop-device:device/vrf[name=a\\]b\\\\c]"


# --- routed sub-interfaces and static routes (L3VPN) ----------------------------------------
def test_an_l3_tree_round_trips_as_rfc7951_json() -> None:
    body = json.loads(json.dumps(tree_to_json(L3)))
    vrf = body["vrf"][0]
    assert vrf["static-route"] == [
        {"prefix": "10.2.2.0/24", "next-hop": "169.254.0.1"},
        {"prefix": "10.3.3.0/24", "next-hop": "169.254.0.1"},
    ]
    assert [s["ipv4"] for s in body["subinterface"]] == ["10.1.1.1/24", "169.254.0.0/31"]
    assert tree_from_json(body) == L3.canonical()
    assert tree_from_json({"intentloop-device:device": body}) == L3.canonical()
    # a VRF without routes and an unaddressed sub-interface carry neither member
    plain = tree_to_json(with_address(with_routes(L3), "eth1.100", None))
    assert "static-route" not in plain["vrf"][0] and "ipv4" not in plain["subinterface"][0]


def test_a_changed_route_set_is_edited_entry_by_entry() -> None:
    desired = with_routes(L3, ("10.2.2.0/24", "169.254.0.3"), ("10.4.0.0/16", "169.254.0.1"))
    vrf = "/intentloop-device:device/vrf[name=vpn-a]"
    assert render_edits(edits_between(L3, desired)).splitlines() == [
        f"delete {vrf}/static-route[prefix=10.3.3.0/24]",
        f'replace {vrf}/static-route[prefix=10.2.2.0/24]: {{"prefix": "10.2.2.0/24", '
        '"next-hop": "169.254.0.3"}',
        f'replace {vrf}/static-route[prefix=10.4.0.0/16]: {{"prefix": "10.4.0.0/16", '
        '"next-hop": "169.254.0.1"}',
    ]
    assert [e.op for e in edits_between(L3, with_routes(L3))] == ["delete", "delete"]
    assert edits_between(desired, desired) == ()


def test_a_changed_address_is_one_leaf_update_and_a_removed_one_a_delete() -> None:
    sub = "/intentloop-device:device/subinterface[parent=eth1][vlan-id=100]"
    moved = with_address(L3, "eth1.100", "10.1.1.254/24")
    assert render_edits(edits_between(L3, moved)) == f'update {sub}/ipv4: "10.1.1.254/24"'
    gone = with_address(L3, "eth1.100", None)
    assert render_edits(edits_between(L3, gone)) == f"delete {sub}/ipv4"


@pytest.mark.parametrize(
    ("vrf", "message"),
    [
        ({"static-route": {"prefix": "10.2.2.0/24"}}, r"vrf\[0\]/static-route: expected a JSON"),
        ({"static-route": [{"next-hop": "1.1.1.1"}]}, r"static-route\[0\]: missing key 'prefix'"),
        ({"static-route": [{"prefix": "10.2.2.0/24"}]}, "missing mandatory node 'next-hop'"),
        (
            {"static-route": [{"prefix": "10.2.2.0/24", "next-hop": "1.1.1.1", "metric": 5}]},
            "unknown node 'metric'",
        ),
        (
            {"static-route": [{"prefix": "10.2.2.9/24", "next-hop": "1.1.1.1"}]},
            r"static-route\[0\]: prefix",
        ),
        (
            {"static-route": [{"prefix": "10.2.2.0/24", "next-hop": "1.1.1.1"}] * 2},
            "duplicate key '10.2.2.0/24'",
        ),
    ],
)
def test_routes_the_model_cannot_hold_are_refused_with_their_location(
    vrf: dict[str, object], message: str
) -> None:
    with pytest.raises(GnmiJsonError, match=message):
        tree_from_json({"vrf": [{"name": "v", **vrf}]})
