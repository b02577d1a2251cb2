"""The device tree as NETCONF XML: round trips, hostile text, hardened parsing, minimal edits."""

from __future__ import annotations

import random

import pytest
from lxml import etree

from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan, Vrf
from intentloop_intents.device import xml as device_xml
from intentloop_intents.device.model import StaticRoute
from tests.unit.device.l3_trees import L3, with_address, with_routes

NC = device_xml.NC_NS
OP = f"{{{NC}}}operation"
HOSTILE = [
    "<interface><name>evil</name></interface>",
    "a & b &amp; &lt; &#x41; &unknown;",
    "\"double\" 'single' `back`",
    "]]>]]>",
    "\n#4\nabcd\n##\n",
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>&xxe;',
    "<![CDATA[ raw ]]>",
    "  leading and trailing spaces  ",
    "unicode é ✓ 🚀",
]

FULL = DeviceConfigTree(
    interfaces=(
        Interface(name="eth2", enabled=False, description="b", mtu=9216, owners=frozenset({"x/1"})),
        Interface(name="eth1"),
    ),
    vlans=(Vlan(vlan_id=4094, name="top"), Vlan(vlan_id=1)),
    policers=(Policer(name="p1", rate_mbps=400_000, burst_kbytes=1),),
    vrfs=(Vrf(name="blue", route_target="65000:1", description="d"),),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=1, vrf="blue", policer="p1", owners=frozenset({"a/b"})),
        SubInterface(parent="eth1", vlan_id=2),
    ),
)


def wire(element: etree._Element) -> bytes:
    return etree.tostring(element)


def random_tree(rng: random.Random) -> DeviceConfigTree:
    text = [*HOSTILE, "", "plain"]

    def owners() -> frozenset[str]:
        return frozenset(rng.sample(["a/x", "b/y", "c/<z>", "d/&"], rng.randint(0, 3)))

    interfaces = tuple(
        Interface(
            name=name,
            enabled=rng.random() < 0.5,
            description=rng.choice(text),
            mtu=rng.choice([None, 68, 1500, 9216]),
            owners=owners(),
        )
        for name in ("eth1", "eth2", "ge-0/0/1")
        if rng.random() < 0.6
    )
    vlans = tuple(
        Vlan(vlan_id=v, name=rng.choice(text)[:64], owners=owners())
        for v in (1, 100, 4094)
        if rng.random() < 0.5
    )
    policers = tuple(
        Policer(name=p, rate_mbps=rng.randint(1, 400_000), owners=owners())
        for p in ("p1", "p2")
        if rng.random() < 0.5
    )
    routes = [StaticRoute(prefix=f"10.{n}.0.0/16", next_hop="169.254.0.1") for n in range(4)]
    vrfs = tuple(
        Vrf(name=v, owners=owners(), static_routes=tuple(rng.sample(routes, rng.randint(0, 3))))
        for v in ("v1", "v2")
        if rng.random() < 0.5
    )
    subs = tuple(
        SubInterface(
            parent="eth1",
            vlan_id=v,
            vrf=vrf,
            ipv4=rng.choice([None, f"10.{v}.0.1/24", "169.254.0.1/31"]) if vrf else None,
            policer=rng.choice([None, *[x.name for x in policers]]),
            l2_instance=None if vrf else rng.choice([None, "svc-t.a"]),
            owners=owners(),
        )
        for v in (10, 20)
        if rng.random() < 0.5
        for vrf in [rng.choice([None, *[x.name for x in vrfs]])]
    )
    return DeviceConfigTree(
        interfaces=interfaces, vlans=vlans, policers=policers, vrfs=vrfs, subinterfaces=subs
    )


def test_a_full_tree_round_trips_to_its_canonical_form() -> None:
    assert device_xml.parse_config(wire(device_xml.render_config(FULL))) == FULL.canonical()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_character_data_and_round_trips(text: str) -> None:
    tree = DeviceConfigTree(
        interfaces=(Interface(name="eth1", description=text, owners=frozenset({text})),),
        vlans=(Vlan(vlan_id=5, name=text[:64]),),
    )
    raw = wire(device_xml.render_config(tree))
    assert b"]]>]]>" not in raw  # cannot end a NETCONF 1.0 message early
    assert b"<!DOCTYPE" not in raw and b"<interface><name>evil" not in raw
    assert device_xml.parse_config(raw) == tree.canonical()


def test_random_trees_round_trip() -> None:
    rng = random.Random(20261101)
    for _ in range(300):
        tree = random_tree(rng)
        assert device_xml.parse_config(wire(device_xml.render_config(tree))) == tree.canonical()


@pytest.mark.parametrize(
    "document",
    [
        f'<rpc-reply xmlns="{NC}" message-id="1"><data>{{device}}</data></rpc-reply>',
        f'<data xmlns="{NC}">{{device}}</data>',
        f'<config xmlns="{NC}">{{device}}</config>',
        "{device}",
    ],
)
def test_the_tree_is_found_in_any_reply_shape(document: str) -> None:
    device = etree.tostring(device_xml.render_device(FULL), encoding="unicode")
    assert device_xml.parse_config(document.format(device=device)) == FULL.canonical()


def test_an_empty_reply_is_an_empty_tree_and_defaults_apply_to_missing_leaves() -> None:
    assert device_xml.parse_config(f'<data xmlns="{NC}"/>') == DeviceConfigTree()
    sparse = """<device xmlns="urn:intentloop:device">
      <interface><name>eth1</name><future-leaf>x</future-leaf></interface>
      <policer><name>p</name><rate-mbps> 5 </rate-mbps></policer></device>"""
    tree = device_xml.parse_config(sparse)
    assert tree.interfaces == (Interface(name="eth1", enabled=True, description=""),)
    assert tree.policers == (Policer(name="p", rate_mbps=5, burst_kbytes=1000),)


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ('<!DOCTYPE d [<!ENTITY x "boom">]><device xmlns="urn:intentloop:device"/>', "document"),
        ('<!DOCTYPE d SYSTEM "http://example.invalid/d.dtd"><d/>', "document"),
        ("<device xmlns='urn:intentloop:device'><vlan>", "malformed"),
        (
            "<device xmlns='urn:intentloop:device'><interface><name>e</name>"
            "<enabled>yes</enabled></interface></device>",
            "boolean",
        ),
        (
            "<device xmlns='urn:intentloop:device'><vlan><vlan-id>x</vlan-id></vlan></device>",
            "integer",
        ),
        (
            "<device xmlns='urn:intentloop:device'><interface><name>e</name><mtu>10</mtu>"
            "</interface></device>",
            "mtu",
        ),
    ],
)
def test_replies_we_cannot_trust_or_fit_are_refused(document: str, complaint: str) -> None:
    with pytest.raises(device_xml.DeviceXmlError, match=complaint):
        device_xml.parse_config(document)


def _entries(edit: etree._Element) -> list[etree._Element]:
    device = edit.find(device_xml.DEVICE)
    assert device is not None
    return list(device)


def _leaf_names(entry: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in entry]


def test_equal_trees_need_no_edit_whatever_their_order() -> None:
    reordered = FULL.model_copy(update={"interfaces": FULL.interfaces[::-1]})
    assert device_xml.minimal_edit(FULL, reordered) is None


def test_an_edit_carries_only_the_changed_leaf_of_the_changed_item() -> None:
    changed = FULL.model_copy(
        update={"vlans": (Vlan(vlan_id=4094, name="renamed"), Vlan(vlan_id=1))}
    )
    edit = device_xml.minimal_edit(FULL, changed)
    assert edit is not None
    [entry] = _entries(edit)
    assert _leaf_names(entry) == ["vlan-id", "name"]
    assert entry.get(OP) is None and entry.findtext(f"{{{device_xml.NS}}}name") == "renamed"


def test_removed_items_and_unset_leaves_are_removed_by_key() -> None:
    eth2 = FULL.interfaces[0].model_copy(update={"mtu": None})
    changed = FULL.model_copy(update={"interfaces": (eth2,), "subinterfaces": ()})
    edit = device_xml.minimal_edit(FULL, changed)
    assert edit is not None
    summary = [
        (etree.QName(e).localname, tuple(c.text for c in e), e.get(OP)) for e in _entries(edit)
    ]
    assert summary == [
        ("interface", ("eth1",), "remove"),
        ("interface", ("eth2", None), None),
        ("subinterface", ("eth1", "1"), "remove"),
        ("subinterface", ("eth1", "2"), "remove"),
    ]
    mtu = _entries(edit)[1][1]
    assert etree.QName(mtu).localname == "mtu" and mtu.get(OP) == "remove"


def test_an_item_whose_owners_change_is_replaced_whole() -> None:
    owned = FULL.interfaces[0]
    changed = FULL.model_copy(
        update={
            "interfaces": (
                owned.model_copy(update={"owners": frozenset({"x/1", "y/2"})}),
                FULL.interfaces[1],
            )
        }
    )
    edit = device_xml.minimal_edit(FULL, changed)
    assert edit is not None
    [entry] = _entries(edit)
    assert entry.get(OP) == "replace"
    assert _leaf_names(entry) == ["name", "enabled", "description", "mtu", "owner", "owner"]


def test_an_edit_is_much_smaller_than_the_whole_tree() -> None:
    big = DeviceConfigTree(vlans=tuple(Vlan(vlan_id=v, name=f"v{v}") for v in range(1, 1001)))
    one = big.model_copy(update={"vlans": (*big.vlans[:-1], Vlan(vlan_id=1000, name="x"))})
    edit = device_xml.minimal_edit(big, one)
    assert edit is not None
    assert len(wire(edit)) * 100 < len(wire(device_xml.render_config(big)))


# --- routed sub-interfaces and static routes (L3VPN) ----------------------------------------
def test_an_l3_tree_round_trips_with_addresses_and_static_routes() -> None:
    raw = wire(device_xml.render_config(L3))
    assert b"<ipv4>10.1.1.1/24</ipv4>" in raw and b"<ipv4>169.254.0.0/31</ipv4>" in raw
    assert (
        b"<static-route><prefix>10.2.2.0/24</prefix><next-hop>169.254.0.1</next-hop>"
        b"</static-route><static-route><prefix>10.3.3.0/24</prefix>" in raw
    )
    parsed = device_xml.parse_config(raw)
    assert parsed == L3.canonical()
    assert parsed.vrfs[0].static_routes == L3.vrfs[0].static_routes
    assert device_xml.minimal_edit(parsed, L3) is None


def test_a_changed_route_set_is_edited_route_by_route() -> None:
    desired = with_routes(L3, ("10.2.2.0/24", "169.254.0.3"), ("10.4.0.0/16", "169.254.0.1"))
    edit = device_xml.minimal_edit(L3, desired)
    assert edit is not None
    (vrf,) = _entries(edit)
    assert vrf.get(OP) is None and vrf.findtext(f"{{{device_xml.NS}}}name") == "vpn-a"
    routes = [
        (
            r.get(OP),
            r.findtext(f"{{{device_xml.NS}}}prefix"),
            r.findtext(f"{{{device_xml.NS}}}next-hop"),
        )
        for r in vrf.findall(f"{{{device_xml.NS}}}static-route")
    ]
    assert routes == [
        ("remove", "10.3.3.0/24", None),
        (None, "10.2.2.0/24", "169.254.0.3"),
        (None, "10.4.0.0/16", "169.254.0.1"),
    ]
    assert len(vrf) == 4  # the key and the three routes: nothing else of the VRF is sent


def test_a_changed_or_removed_address_is_one_leaf() -> None:
    moved = with_address(L3, "eth1.100", "10.1.1.254/24")
    edit = device_xml.minimal_edit(L3, moved)
    assert edit is not None
    (sub,) = _entries(edit)
    assert _leaf_names(sub) == ["parent", "vlan-id", "ipv4"]
    assert sub.findtext(f"{{{device_xml.NS}}}ipv4") == "10.1.1.254/24"
    edit = device_xml.minimal_edit(L3, with_address(L3, "eth1.100", None))
    assert edit is not None
    (sub,) = _entries(edit)
    assert sub.find(f"{{{device_xml.NS}}}ipv4").get(OP) == "remove"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (
            "<vrf><name>v</name><static-route><prefix>10.2.2.1/24</prefix>"
            "<next-hop>1.1.1.1</next-hop></static-route></vrf>",
            "static-route",
        ),
        (
            "<vrf><name>v</name><static-route><prefix>10.2.2.0/24</prefix></static-route></vrf>",
            "(?s)static-route.*nextHop",
        ),
        (
            "<vrf><name>v</name></vrf><subinterface><parent>e</parent><vlan-id>1</vlan-id>"
            "<vrf>v</vrf><ipv4>10.1.1.1</ipv4></subinterface>",
            "ipv4",
        ),
        (
            "<subinterface><parent>e</parent><vlan-id>1</vlan-id><ipv4>10.1.1.1/24</ipv4>"
            "</subinterface>",
            "only in a VRF",
        ),
    ],
)
def test_routes_and_addresses_the_model_cannot_hold_are_refused(body: str, complaint: str) -> None:
    with pytest.raises(device_xml.DeviceXmlError, match=complaint):
        device_xml.parse_config(f'<device xmlns="{device_xml.NS}">{body}</device>')
