"""`DeviceConfigTree` as OpenConfig: the profile real routers speak (gNMI JSON_IETF).

The tree maps onto published OpenConfig modules (RFC 7951 JSON, module-qualified names):
- `openconfig-interfaces`: each interface with `config/{name,type,enabled,description,mtu}`;
  each sub-interface as `subinterfaces/subinterface[index=<vlan>]`, its VLAN matched through
  `openconfig-vlan` (`vlan/match/single-tagged/config/vlan-id`). A parent port intentloop
  does not manage itself is rendered with `config/{name,type}` only, so it parses back to
  no `Interface` item (a managed one always carries `enabled`). A routed sub-interface's
  address is `openconfig-if-ip`'s `ipv4/addresses/address[ip]/config/{ip,prefix-length}`.
- `openconfig-network-instance`: one `L3VRF` instance per `Vrf` holding the sub-interfaces
  in it and, when it has static routes, the `openconfig-local-routing` protocol
  `protocols/protocol[identifier=openconfig-policy-types:STATIC][name=STATIC]` with one
  `static-routes/static[prefix]` per route, its next hop `next-hops/next-hop[index=0]`
  (`config/{index,next-hop}`); one L2 instance per `Vlan` (`L2P2P` when it joins
  exactly two sub-interfaces, else `L2VSI`) holding the sub-interfaces of that VLAN
  outside any VRF, with the VLAN itself in the instance's `vlans` list (id and name:
  what parsing reads back). L2 instances are
  named after the VLAN's name when that is unique, else `vlan-<id>`. Sub-interfaces naming
  an `l2_instance` (each port with its own tag) form the instance of that name instead,
  from exactly those members and with no `vlans` list.
- `openconfig-qos`: a policer is a scheduler-policy with one `ONE_RATE_TWO_COLOR` scheduler
  (`cir` in bit/s, `bc` in bytes); a sub-interface's policer is that policy applied to the
  sub-interface's input (`qos/interfaces/interface[interface-id=<parent>.<vlan>]`).
- `openconfig-routing-policy` + `openconfig-bgp-policy`: a VRF's route target is the
  BGP extended-community set named after the VRF (`route-target:<asn>:<n>`).

Owners are intentloop's bookkeeping and OpenConfig has no place for them: they are not
rendered, and the parsed tree carries none (`DeviceConfigTree.without_owners`). An L2
instance whose members are not exactly what its VLAN implies parses to no `Vlan` item, so
drift reports it and a repair replaces the whole instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intentloop_intents.device.model import (
    DeviceConfigTree,
    SubInterface,
    Vrf,
)

IF = "openconfig-interfaces:interfaces"
NI = "openconfig-network-instance:network-instances"
QOS = "openconfig-qos:qos"
RP = "openconfig-routing-policy:routing-policy"
TOP_LEVEL = (IF, NI, QOS, RP)
ETHERNET = "iana-if-type:ethernetCsmacd"
VLAN_AUG = "openconfig-vlan:vlan"
IPV4_AUG = "openconfig-if-ip:ipv4"
STATIC = "openconfig-policy-types:STATIC"
STATIC_NAME = "STATIC"  # the name of the one static-routing protocol instance per VRF
NEXT_HOP_INDEX = "0"  # each route has one next hop
BGP_SETS = "openconfig-bgp-policy:bgp-defined-sets"
_NI_TYPE = "openconfig-network-instance-types:"
_L3VRF, _L2P2P, _L2VSI = (f"{_NI_TYPE}{t}" for t in ("L3VRF", "L2P2P", "L2VSI"))
_ONE_RATE = "openconfig-qos-types:ONE_RATE_TWO_COLOR"
_RT = "route-target:"
Json = dict[str, Any]


class OpenConfigError(ValueError):
    """Running OpenConfig that intentloop's model cannot represent; the message says where."""


# --- render ---------------------------------------------------------------------------
def render(tree: DeviceConfigTree) -> Json:
    """The RFC 7951 document of `tree` (top-level containers with nothing in them left out)."""
    t = tree.canonical()
    doc: Json = {
        IF: _interfaces(t),
        NI: {"network-instance": [*_vrf_instances(t), *_l2_instances(t), *_cross_connects(t)]},
        QOS: _qos(t),
        RP: _route_targets(t),
    }
    return {k: v for k, v in doc.items() if any(v.values())}


def _interfaces(t: DeviceConfigTree) -> Json:
    managed = {i.name: i for i in t.interfaces}
    parents = sorted(managed.keys() | {s.parent for s in t.subinterfaces})
    entries = []
    for name in parents:
        config: Json = {"name": name, "type": ETHERNET}
        item = managed.get(name)
        if item is not None:
            config |= {"enabled": item.enabled, "description": item.description}
            if item.mtu is not None:
                config["mtu"] = item.mtu
        entry: Json = {"name": name, "config": config}
        subs = [_subinterface(s) for s in t.subinterfaces if s.parent == name]
        if subs:
            entry["subinterfaces"] = {"subinterface": subs}
        entries.append(entry)
    return {"interface": entries}


def _subinterface(sub: SubInterface) -> Json:
    entry: Json = {
        "index": sub.vlan_id,
        "config": {"index": sub.vlan_id, "description": sub.description},
        VLAN_AUG: {"match": {"single-tagged": {"config": {"vlan-id": sub.vlan_id}}}},
    }
    if sub.ipv4 is not None:
        ip, _, length = sub.ipv4.partition("/")
        address = {"ip": ip, "config": {"ip": ip, "prefix-length": int(length)}}
        entry[IPV4_AUG] = {"addresses": {"address": [address]}}
    return entry


def _member(sub: SubInterface) -> Json:
    config = {"id": sub.name, "interface": sub.parent, "subinterface": sub.vlan_id}
    return {"id": sub.name, "config": config}


def _vrf_instances(t: DeviceConfigTree) -> list[Json]:
    out = []
    for vrf in t.vrfs:
        config = {"name": vrf.name, "type": _L3VRF, "description": vrf.description}
        entry: Json = {"name": vrf.name, "config": config}
        members = [_member(s) for s in t.subinterfaces if s.vrf == vrf.name]
        if members:
            entry["interfaces"] = {"interface": members}
        if vrf.static_routes:
            entry["protocols"] = {"protocol": [_static_protocol(vrf)]}
        out.append(entry)
    return out


def _static_protocol(vrf: Vrf) -> Json:
    """The VRF's static routes as its `openconfig-local-routing` STATIC protocol."""
    routes = []
    for route in vrf.static_routes:
        hop = {"index": NEXT_HOP_INDEX, "next-hop": route.next_hop}
        routes.append(
            {
                "prefix": route.prefix,
                "config": {"prefix": route.prefix},
                "next-hops": {"next-hop": [{"index": NEXT_HOP_INDEX, "config": hop}]},
            }
        )
    config = {"identifier": STATIC, "name": STATIC_NAME}
    return {**config, "config": config, "static-routes": {"static": routes}}


def l2_instance_names(vlans: Iterable[tuple[int, str]], vrfs: Iterable[str]) -> dict[int, str]:
    """VLAN id → name of its L2 network instance, from (id, name) pairs and the VRF names:
    the VLAN's name when no other instance would share it, else `vlan-<id>`."""
    pairs = list(vlans)
    names = [name for _, name in pairs]
    taken = {*vrfs, "DEFAULT"}
    out: dict[int, str] = {}
    for vlan_id, name in pairs:
        unique = name and names.count(name) == 1 and name not in taken
        out[vlan_id] = name if unique else f"vlan-{vlan_id}"
    return out


def _l2_instances(t: DeviceConfigTree) -> list[Json]:
    names = l2_instance_names(((v.vlan_id, v.name) for v in t.vlans), (v.name for v in t.vrfs))
    out = []
    for vlan in t.vlans:
        subs = [s for s in t.subinterfaces if s.vlan_id == vlan.vlan_id and _vlan_member(s)]
        name = names[vlan.vlan_id]
        kind = _L2P2P if len(subs) == 2 else _L2VSI
        entry: Json = {"name": name, "config": {"name": name, "type": kind}}
        if subs:
            entry["interfaces"] = {"interface": [_member(s) for s in subs]}
        vlan_config = {"vlan-id": vlan.vlan_id, "name": vlan.name}
        entry["vlans"] = {"vlan": [{"vlan-id": vlan.vlan_id, "config": vlan_config}]}
        out.append(entry)
    return out


def _vlan_member(sub: SubInterface) -> bool:
    """A sub-interface switched by its VLAN id (in neither a VRF nor a named L2 instance)."""
    return sub.vrf is None and sub.l2_instance is None


def _cross_connects(t: DeviceConfigTree) -> list[Json]:
    """One L2 instance per `l2_instance` name, its members whatever their tags."""
    names = sorted({s.l2_instance for s in t.subinterfaces if s.l2_instance is not None})
    out = []
    for name in names:
        subs = [s for s in t.subinterfaces if s.l2_instance == name]
        kind = _L2P2P if len(subs) == 2 else _L2VSI
        entry: Json = {"name": name, "config": {"name": name, "type": kind}}
        entry["interfaces"] = {"interface": [_member(s) for s in subs]}
        out.append(entry)
    return out


def _qos(t: DeviceConfigTree) -> Json:
    policies = []
    for p in t.policers:
        rate = {"cir": str(p.rate_mbps * 1_000_000), "bc": p.burst_kbytes * 1000}
        scheduler = {
            "sequence": 1,
            "config": {"sequence": 1, "type": _ONE_RATE},
            "one-rate-two-color": {"config": rate},
        }
        policies.append(
            {"name": p.name, "config": {"name": p.name}, "schedulers": {"scheduler": [scheduler]}}
        )
    applied = []
    for s in t.subinterfaces:
        if s.policer is not None:
            ref = {"interface": s.parent, "subinterface": s.vlan_id}
            applied.append(
                {
                    "interface-id": s.name,
                    "config": {"interface-id": s.name},
                    "interface-ref": {"config": ref},
                    "input": {"scheduler-policy": {"config": {"name": s.policer}}},
                }
            )
    out: Json = {}
    if policies:
        out["scheduler-policies"] = {"scheduler-policy": policies}
    if applied:
        out["interfaces"] = {"interface": applied}
    return out


def _route_targets(t: DeviceConfigTree) -> Json:
    sets = [
        {
            "ext-community-set-name": v.name,
            "config": {"ext-community-set-name": v.name, "ext-community-member": [_RT + rt]},
        }
        for v in t.vrfs
        if (rt := v.route_target)
    ]
    if not sets:
        return {}
    return {"defined-sets": {BGP_SETS: {"ext-community-sets": {"ext-community-set": sets}}}}


# The parser lives beside this module (size); imported last, as it reads the names above.
from intentloop_intents.device.openconfig_parse import parse  # noqa: E402

__all__ = ["IF", "NI", "QOS", "RP", "TOP_LEVEL", "OpenConfigError", "parse", "render"]
