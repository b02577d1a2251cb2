"""The OpenConfig profile: parse(render(t)) == t without owners, for many trees; every
rendered payload is valid OpenConfig by libyang against the published modules; edits turn
one device's document into the other's."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from intentloop_intents.device import (
    DeviceConfigTree,
    Interface,
    Policer,
    SubInterface,
    Vlan,
    Vrf,
)
from intentloop_intents.device import openconfig as oc
from intentloop_intents.device.model import StaticRoute
from intentloop_intents.device.openconfig_edits import edits_between, normalise, render_edits
from tests.openconfig_yang import errors, yanglint
from tests.unit.device.l3_trees import L3, with_address, with_routes

PORTS = ("eth1", "eth2", "eth3", "ge-0/0/1")
VLAN_NAMES = ("svc-a", "svc-b", "svc-a", "", "DEFAULT", "blue", 'quote"and\\back')


def random_tree(rng: random.Random) -> DeviceConfigTree:
    owner = frozenset({f"t{rng.randint(1, 3)}/s{rng.randint(1, 9)}"})
    interfaces = tuple(
        Interface(
            name=name,
            enabled=rng.random() < 0.8,
            description=rng.choice(("", "to core", "customer [A]")),
            mtu=rng.choice((None, 1500, 9000)),
            owners=owner,
        )
        for name in PORTS
        if rng.random() < 0.6
    )
    routes = [StaticRoute(prefix=f"10.{n}.0.0/16", next_hop=f"169.254.0.{n}") for n in range(4)]
    vrfs = tuple(
        Vrf(
            name=name,
            route_target=rng.choice(("", "65000:1", "64512:4000")),
            static_routes=tuple(rng.sample(routes, rng.choice((0, 0, 1, 3)))),
            owners=owner,
        )
        for name in ("blue", "red")
        if rng.random() < 0.4
    )
    policers = tuple(
        Policer(name=f"p{rate}", rate_mbps=rate, burst_kbytes=rng.choice((1000, 64)))
        for rate in (10, 250)
        if rng.random() < 0.5
    )
    vlan_ids = rng.sample(range(1, 4095), rng.randint(0, 4))
    vlans = tuple(Vlan(vlan_id=v, name=rng.choice(VLAN_NAMES), owners=owner) for v in vlan_ids)
    subs: dict[str, SubInterface] = {}
    for vlan in [*vlan_ids, rng.randint(1, 4094)]:
        for parent in rng.sample(PORTS, rng.randint(0, 3)):
            vrf = rng.choice([None, *(v.name for v in vrfs)])
            sub = SubInterface(
                parent=parent,
                vlan_id=vlan,
                description=rng.choice(("", "intentloop svc (edge)")),
                vrf=vrf,
                ipv4=rng.choice((None, f"10.{vlan % 256}.0.1/24", "169.254.0.1/31"))
                if vrf
                else None,
                policer=rng.choice([None, *(p.name for p in policers)]),
                l2_instance=None if vrf else rng.choice((None, None, "xc-a", "xc-b")),
                owners=owner,
            )
            subs[sub.name] = sub
    return DeviceConfigTree(
        interfaces=interfaces,
        vlans=vlans,
        policers=policers,
        vrfs=vrfs,
        subinterfaces=tuple(subs.values()),
    )


TREES = [random_tree(random.Random(seed)) for seed in range(300)]
FULL = DeviceConfigTree(
    interfaces=(Interface(name="eth1", mtu=9000), Interface(name="eth2", enabled=False)),
    vlans=(Vlan(vlan_id=100, name="svc-a"), Vlan(vlan_id=200, name="svc-b")),
    policers=(Policer(name="svc-a-250m", rate_mbps=250),),
    vrfs=(Vrf(name="blue", route_target="65000:7", description="intentloop vpn"),),
    subinterfaces=(
        SubInterface(parent="eth1", vlan_id=100, policer="svc-a-250m"),
        SubInterface(parent="eth2", vlan_id=100),
        SubInterface(parent="eth3", vlan_id=200),
        SubInterface(parent="eth1", vlan_id=300, vrf="blue", policer="svc-a-250m"),
    ),
)


@pytest.mark.parametrize("tree", TREES[:150], ids=lambda t: f"{len(t.subinterfaces)}subs")
def test_parse_of_render_is_the_tree_without_owners(tree: DeviceConfigTree) -> None:
    assert oc.parse(oc.render(tree)) == tree.without_owners()


def test_the_generated_trees_cover_every_part_of_the_mapping() -> None:
    """Guard against a generator that stopped producing what the round trip must cover."""
    assert sum(bool(t.vrfs and t.subinterfaces) for t in TREES) > 30
    assert sum(any(v.static_routes for v in t.vrfs) for t in TREES[:60]) > 5
    assert sum(any(s.ipv4 for s in t.subinterfaces) for t in TREES[:60]) > 5
    assert sum(any(s.policer for s in t.subinterfaces) for t in TREES) > 30
    assert sum(len({v.name for v in t.vlans}) < len(t.vlans) for t in TREES) > 5
    assert sum(len({s.l2_instance for s in t.subinterfaces} - {None}) == 2 for t in TREES) > 10
    assert any(
        s.parent not in {i.name for i in t.interfaces} for t in TREES for s in t.subinterfaces
    )


def test_an_l2_service_is_an_l2p2p_instance_joining_its_two_subinterfaces() -> None:
    doc = oc.render(FULL)
    instances = {n["name"]: n for n in doc[oc.NI]["network-instance"]}
    svc_a = instances["svc-a"]
    assert svc_a["config"]["type"] == "openconfig-network-instance-types:L2P2P"
    assert [m["id"] for m in svc_a["interfaces"]["interface"]] == ["eth1.100", "eth2.100"]
    assert instances["svc-b"]["config"]["type"] == "openconfig-network-instance-types:L2VSI"
    blue = instances["blue"]
    assert blue["config"]["type"] == "openconfig-network-instance-types:L3VRF"
    assert [m["id"] for m in blue["interfaces"]["interface"]] == ["eth1.300"]


def test_an_l2_instance_joins_its_members_whatever_their_tags(tmp_path: Path) -> None:
    tree = DeviceConfigTree(
        subinterfaces=(
            SubInterface(parent="eth1", vlan_id=100, l2_instance="svc-t.a"),
            SubInterface(parent="eth2", vlan_id=37, l2_instance="svc-t.a"),
            SubInterface(parent="eth2", vlan_id=100, l2_instance="svc-t.b"),
            SubInterface(parent="eth3", vlan_id=5, l2_instance="svc-t.b"),
        )
    )
    doc = oc.render(tree)
    instances = {n["name"]: n for n in doc[oc.NI]["network-instance"]}
    a = instances["svc-t.a"]
    assert a["config"]["type"] == "openconfig-network-instance-types:L2P2P"
    assert [m["id"] for m in a["interfaces"]["interface"]] == ["eth1.100", "eth2.37"]
    assert "vlans" not in a
    assert oc.parse(doc) == tree
    done = yanglint([doc], tmp_path)
    assert done.returncode == 0, errors(done)


def test_a_policer_is_a_one_rate_two_color_scheduler_applied_to_the_subinterface_input() -> None:
    doc = oc.render(FULL)
    policy = doc[oc.QOS]["scheduler-policies"]["scheduler-policy"][0]
    rate = policy["schedulers"]["scheduler"][0]["one-rate-two-color"]["config"]
    assert rate == {"cir": "250000000", "bc": 1_000_000}  # uint64 is a JSON string (RFC 7951)
    applied = {i["interface-id"]: i for i in doc[oc.QOS]["interfaces"]["interface"]}
    assert applied["eth1.100"]["input"]["scheduler-policy"]["config"]["name"] == "svc-a-250m"
    assert applied["eth1.100"]["interface-ref"]["config"] == {
        "interface": "eth1",
        "subinterface": 100,
    }


def test_every_rendered_payload_is_valid_openconfig_for_libyang(tmp_path: Path) -> None:
    documents = [oc.render(FULL), *(oc.render(t) for t in TREES[:60])]
    done = yanglint(documents, tmp_path)
    assert done.returncode == 0, errors(done)


def test_libyang_refuses_a_vlan_id_of_5000(tmp_path: Path) -> None:
    """The validator really validates: one out-of-range leaf fails the whole document."""
    doc = copy.deepcopy(oc.render(FULL))
    sub = doc[oc.IF]["interface"][0]["subinterfaces"]["subinterface"][0]
    sub[oc.VLAN_AUG]["match"]["single-tagged"]["config"]["vlan-id"] = 5000
    done = yanglint([doc], tmp_path)
    assert done.returncode != 0
    assert "5000" in errors(done) and "vlan-id" in errors(done)


def apply(document: dict[str, Any], edits: Any) -> dict[str, Any]:
    """gNMI delete/replace/update on a plain document (what a device does with a Set)."""
    doc = normalise(document)
    for edit in edits:
        *parents, (name, keys) = edit.path
        node = doc
        for elem, elem_keys in parents:
            node = node.setdefault(elem, [] if elem_keys else {})
            if elem_keys:
                node = next(e for e in node if all(str(e[k]) == v for k, v in elem_keys))
        if keys:
            entries = node.setdefault(name, [])
            entries[:] = [e for e in entries if not all(str(e[k]) == v for k, v in keys)]
            if edit.op != "delete":
                entries.append(normalise(edit.value, ""))
        elif edit.op == "delete":
            node.pop(name, None)
        else:
            node[name] = normalise(edit.value)
    return normalise(doc)


@pytest.mark.parametrize("seed", range(0, 120, 2))
def test_edits_turn_one_running_document_into_the_other(seed: int) -> None:
    before, after = TREES[seed], TREES[seed + 1]
    edits = edits_between(oc.render(before), oc.render(after))
    result = apply(oc.render(before), edits)
    assert _without_empty(result) == _without_empty(normalise(oc.render(after)))
    assert edits_between(oc.render(after), oc.render(after)) == ()


def test_removing_everything_deletes_entries_not_the_devices_own_containers() -> None:
    edits = edits_between(oc.render(FULL), oc.render(DeviceConfigTree()))
    paths = render_edits(edits).splitlines()
    assert all(edit.op == "delete" for edit in edits)
    assert "delete /interfaces/interface[name=eth1]" in paths
    assert not any(line in ("delete /qos", "delete /interfaces") for line in paths)


def test_a_changed_leaf_is_one_update() -> None:
    changed = FULL.model_copy(
        update={"interfaces": (Interface(name="eth1", mtu=1500), FULL.interfaces[1])}
    )
    edits = edits_between(oc.render(FULL), oc.render(changed))
    assert render_edits(edits) == "update /interfaces/interface[name=eth1]/config/mtu: 1500"


def test_an_l2_instance_whose_members_were_changed_by_hand_parses_without_its_vlan() -> None:
    doc = copy.deepcopy(oc.render(FULL))
    instance = next(n for n in doc[oc.NI]["network-instance"] if n["name"] == "svc-a")
    del instance["interfaces"]["interface"][1]  # someone took eth2.100 out of the service
    parsed = oc.parse(doc)
    assert 100 not in {v.vlan_id for v in parsed.vlans}  # drift sees the VLAN as missing
    assert parsed.subinterfaces == FULL.without_owners().subinterfaces


def test_what_the_model_cannot_hold_is_refused_naming_the_node() -> None:
    doc = copy.deepcopy(oc.render(FULL))
    policy = doc[oc.QOS]["scheduler-policies"]["scheduler-policy"][0]
    policy["schedulers"]["scheduler"][0]["one-rate-two-color"]["config"]["cir"] = "1500"
    with pytest.raises(oc.OpenConfigError, match=r"scheduler-policy\[name=svc-a-250m\]"):
        oc.parse(doc)


def _without_empty(node: Any) -> Any:
    if isinstance(node, dict):
        kept = {k: _without_empty(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(node, list):
        return [_without_empty(v) for v in node]
    return node


# --- routed sub-interfaces and static routes (L3VPN) ----------------------------------------
STATIC_PROTOCOL = "protocol[identifier=openconfig-policy-types:STATIC][name=STATIC]"


def test_an_l3_tree_round_trips_and_is_valid_openconfig(tmp_path: Path) -> None:
    doc = oc.render(L3)
    assert oc.parse(doc) == L3.without_owners()
    assert oc.parse(copy.deepcopy(doc)).vrfs[0].static_routes == L3.vrfs[0].static_routes
    done = yanglint([doc], tmp_path)
    assert done.returncode == 0, errors(done)


def test_an_address_is_openconfig_if_ip_on_the_subinterface() -> None:
    doc = oc.render(L3)
    subs = {
        (i["name"], s["index"]): s
        for i in doc[oc.IF]["interface"]
        for s in i.get("subinterfaces", {}).get("subinterface", [])
    }
    assert subs[("eth1", 100)]["openconfig-if-ip:ipv4"] == {
        "addresses": {
            "address": [{"ip": "10.1.1.1", "config": {"ip": "10.1.1.1", "prefix-length": 24}}]
        }
    }
    transit = subs[("eth2", 7)]["openconfig-if-ip:ipv4"]["addresses"]["address"][0]
    assert transit["config"] == {"ip": "169.254.0.0", "prefix-length": 31}


def test_static_routes_are_the_vrfs_openconfig_local_routing_static_protocol() -> None:
    doc = oc.render(L3)
    (vrf,) = doc[oc.NI]["network-instance"]
    (protocol,) = vrf["protocols"]["protocol"]
    assert protocol["identifier"] == "openconfig-policy-types:STATIC"
    assert protocol["config"] == {"identifier": "openconfig-policy-types:STATIC", "name": "STATIC"}
    statics = protocol["static-routes"]["static"]
    assert [s["prefix"] for s in statics] == ["10.2.2.0/24", "10.3.3.0/24"]
    assert statics[0]["config"] == {"prefix": "10.2.2.0/24"}
    assert statics[0]["next-hops"]["next-hop"] == [
        {"index": "0", "config": {"index": "0", "next-hop": "169.254.0.1"}}
    ]
    assert "protocols" not in oc.render(with_routes(L3))[oc.NI]["network-instance"][0]


def test_route_and_address_changes_are_edits_at_their_own_nodes() -> None:
    desired = with_address(
        with_routes(L3, ("10.2.2.0/24", "169.254.0.3"), ("10.4.0.0/16", "169.254.0.1")),
        "eth1.100",
        "10.1.1.254/24",
    )
    edits = edits_between(oc.render(L3), oc.render(desired))
    statics = f"/network-instances/network-instance[name=vpn-a]/protocols/{STATIC_PROTOCOL}"
    statics += "/static-routes/static"
    sub = "/interfaces/interface[name=eth1]/subinterfaces/subinterface[index=100]/ipv4/addresses"
    # whole new entries shown by their path only
    lines = [line.split(": {", 1)[0] for line in render_edits(edits).splitlines()]
    assert lines == [
        f"delete {sub}/address[ip=10.1.1.1]",
        f"delete {statics}[prefix=10.3.3.0/24]",
        f"replace {sub}/address[ip=10.1.1.254]",
        f"replace {statics}[prefix=10.4.0.0/16]",
        f"update {statics}[prefix=10.2.2.0/24]/next-hops/next-hop[index=0]/config/next-hop: "
        '"169.254.0.3"',
    ]
    assert apply(oc.render(L3), edits) == normalise(oc.render(desired))


def test_libyang_refuses_a_bad_next_hop_and_a_bad_prefix_length(tmp_path: Path) -> None:
    doc = copy.deepcopy(oc.render(L3))
    static = doc[oc.NI]["network-instance"][0]["protocols"]["protocol"][0]["static-routes"]
    static["static"][0]["next-hops"]["next-hop"][0]["config"]["next-hop"] = "169.254.0.300"
    done = yanglint([doc], tmp_path)
    assert done.returncode != 0 and "169.254.0.300" in errors(done)
    doc = copy.deepcopy(oc.render(L3))
    sub = doc[oc.IF]["interface"][0]["subinterfaces"]["subinterface"][0]
    sub["openconfig-if-ip:ipv4"]["addresses"]["address"][0]["config"]["prefix-length"] = 33
    done = yanglint([doc], tmp_path)
    assert done.returncode != 0 and "prefix-length" in errors(done)


def test_routes_and_addresses_the_model_cannot_hold_are_refused_naming_the_node() -> None:
    doc = copy.deepcopy(oc.render(L3))
    static = doc[oc.NI]["network-instance"][0]["protocols"]["protocol"][0]["static-routes"]
    hops = static["static"][1]["next-hops"]["next-hop"]
    hops.append({"index": "1", "config": {"index": "1", "next-hop": "169.254.0.5"}})
    with pytest.raises(oc.OpenConfigError, match=r"static\[prefix=10.3.3.0/24\]: .*one next-hop"):
        oc.parse(doc)
    doc = copy.deepcopy(oc.render(L3))
    sub = doc[oc.IF]["interface"][0]["subinterfaces"]["subinterface"][0]
    addresses = sub["openconfig-if-ip:ipv4"]["addresses"]["address"]
    addresses.append({"ip": "10.9.9.9", "config": {"ip": "10.9.9.9", "prefix-length": 24}})
    with pytest.raises(oc.OpenConfigError, match=r"subinterface\[index=100\]/ipv4"):
        oc.parse(doc)


def test_a_static_protocol_intentloop_did_not_write_is_left_alone() -> None:
    doc = copy.deepcopy(oc.render(L3))
    protocols = doc[oc.NI]["network-instance"][0]["protocols"]["protocol"]
    own = copy.deepcopy(protocols[0])
    own["name"] = own["config"]["name"] = "DEFAULT"
    protocols.append(own)
    assert oc.parse(doc) == L3.without_owners()
