"""Running OpenConfig (RFC 7951 JSON) back into `DeviceConfigTree`: the inverse of
`openconfig.render` for every field a device holds (owners excepted, see there).

What intentloop did not put there in a form it knows is left alone (the DEFAULT instance,
ext-community sets not named after a VRF, interface entries that only exist as parents);
what it would have written but is malformed (a policer with two schedulers, a rate that is
not whole Mbit/s) raises `OpenConfigError` naming the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from intentloop_intents.device.model import DeviceConfigTree
from intentloop_intents.device.openconfig import (
    IF,
    NI,
    QOS,
    RP,
    STATIC_NAME,
    OpenConfigError,
    l2_instance_names,
)

Json = dict[str, Any]
_L2 = {"L2P2P", "L2VSI"}


def member(node: Any, name: str) -> Any:
    """`node[name]`, accepting the module-qualified spelling too (RFC 7951 allows both
    where the module does not change); None when absent."""
    if not isinstance(node, Mapping):
        return None
    if name in node:
        return node[name]
    for key, value in node.items():
        if isinstance(key, str) and key.partition(":")[2] == name:
            return value
    return None


def entries(node: Any, *path: str) -> list[Json]:
    """The entries of the list at `path` below `node` (containers, then the list name)."""
    for name in path:
        node = member(node, name)
    if node is None:
        return []
    if not isinstance(node, list) or not all(isinstance(e, Mapping) for e in node):
        raise OpenConfigError(f"{'/'.join(path)}: expected a list of entries")
    return [dict(e) for e in node]


def parse_document(document: Mapping[str, Any]) -> Json:
    """The tree's fields as plain data (validated by the caller)."""
    interfaces, subs = _interfaces(document.get(IF))
    vrfs = _vrfs(document.get(NI), subs)
    _cross_connects(document.get(NI), subs)
    targets = _route_targets(document.get(RP))
    for vrf in vrfs:
        if vrf["name"] in targets:
            vrf["route_target"] = targets[vrf["name"]]
    policers = _policers(document.get(QOS), subs)
    tree = {"interfaces": interfaces, "vrfs": vrfs, "subinterfaces": list(subs.values())}
    tree["vlans"] = _vlans(document.get(NI), tree)
    tree["policers"] = policers
    return tree


def _interfaces(node: Any) -> tuple[list[Json], dict[str, Json]]:
    interfaces: list[Json] = []
    subs: dict[str, Json] = {}
    for entry in entries(node, "interface"):
        config = member(entry, "config") or {}
        name = str(member(entry, "name") or member(config, "name") or "")
        if "enabled" in config:  # managed by intentloop (parents-only entries have no enabled)
            item: Json = {
                "name": name,
                "enabled": config["enabled"],
                "description": config.get("description", ""),
            }
            if "mtu" in config:
                item["mtu"] = config["mtu"]
            interfaces.append(item)
        for sub in entries(entry, "subinterfaces", "subinterface"):
            parsed = _subinterface(name, sub)
            subs[f"{name}.{parsed['vlan_id']}"] = parsed
    return interfaces, subs


def _subinterface(parent: str, sub: Json) -> Json:
    index = member(sub, "index")
    where = f"interfaces/interface[name={parent}]/subinterfaces/subinterface[index={index}]"
    match = member(member(member(member(sub, "vlan"), "match"), "single-tagged"), "config")
    vlan = member(match, "vlan-id")
    if vlan is None:
        raise OpenConfigError(f"{where}: no vlan/match/single-tagged/config/vlan-id")
    if vlan != index:
        raise OpenConfigError(f"{where}: VLAN {vlan} differs from the index {index}")
    description = member(member(sub, "config"), "description") or ""
    parsed: Json = {"parent": parent, "vlan_id": vlan, "description": description}
    addresses = entries(sub, "ipv4", "addresses", "address")
    if len(addresses) > 1:
        raise OpenConfigError(f"{where}/ipv4/addresses: more than one address")
    if addresses:
        config = member(addresses[0], "config") or {}
        ip, length = member(config, "ip"), member(config, "prefix-length")
        if not isinstance(ip, str) or isinstance(length, bool) or not isinstance(length, int):
            raise OpenConfigError(f"{where}/ipv4/addresses/address: no config/ip, prefix-length")
        parsed["ipv4"] = f"{ip}/{length}"
    return parsed


def _instance_type(entry: Json) -> str:
    return str(member(member(entry, "config"), "type") or "").rpartition(":")[2]


def _member_ids(entry: Json, subs: Mapping[str, Json], where: str) -> list[str]:
    ids = []
    for ref in entries(entry, "interfaces", "interface"):
        config = member(ref, "config") or {}
        sub_id = f"{member(config, 'interface')}.{member(config, 'subinterface')}"
        if sub_id not in subs:
            raise OpenConfigError(f"{where}/interfaces: {sub_id} is not a configured subinterface")
        ids.append(sub_id)
    return ids


def _vrfs(node: Any, subs: dict[str, Json]) -> list[Json]:
    vrfs = []
    for entry in entries(node, "network-instance"):
        if _instance_type(entry) != "L3VRF":
            continue
        name = str(member(entry, "name"))
        where = f"network-instances/network-instance[name={name}]"
        for sub_id in _member_ids(entry, subs, where):
            if subs[sub_id].get("vrf") not in (None, name):
                raise OpenConfigError(f"{where}: {sub_id} is already in another VRF")
            subs[sub_id]["vrf"] = name
        description = member(member(entry, "config"), "description") or ""
        vrf: Json = {"name": name, "description": description}
        routes = _static_routes(entry, where)
        if routes:
            vrf["static_routes"] = routes
        vrfs.append(vrf)
    return vrfs


def _static_routes(instance: Json, where: str) -> list[Json]:
    """The routes of the instance's STATIC protocol named as rendering names it; another
    static-routing instance is the device's own and left alone."""
    routes = []
    for protocol in entries(instance, "protocols", "protocol"):
        identifier = str(member(protocol, "identifier") or "").rpartition(":")[2]
        if identifier != "STATIC" or member(protocol, "name") != STATIC_NAME:
            continue
        for static in entries(protocol, "static-routes", "static"):
            prefix = member(static, "prefix")
            here = f"{where}/protocols/protocol[STATIC]/static-routes/static[prefix={prefix}]"
            hops = entries(static, "next-hops", "next-hop")
            if len(hops) != 1:
                raise OpenConfigError(f"{here}: expected exactly one next-hop")
            next_hop = member(member(hops[0], "config"), "next-hop")
            if not isinstance(next_hop, str):
                raise OpenConfigError(f"{here}: no next-hop address")
            routes.append({"prefix": prefix, "next_hop": next_hop})
    return routes


def _cross_connects(node: Any, subs: dict[str, Json]) -> None:
    """Members of L2 instances without a `vlans` list join the instance by name; one whose
    type does not fit its member count is left out, so drift shows it."""
    for entry in entries(node, "network-instance"):
        kind = _instance_type(entry)
        if kind not in _L2 or entries(entry, "vlans", "vlan"):
            continue
        name = str(member(entry, "name"))
        where = f"network-instances/network-instance[name={name}]"
        ids = _member_ids(entry, subs, where)
        if kind != ("L2P2P" if len(ids) == 2 else "L2VSI"):
            continue
        for sub_id in ids:
            if subs[sub_id].get("vrf") is not None or subs[sub_id].get("l2_instance"):
                raise OpenConfigError(f"{where}: {sub_id} is already in another instance")
            subs[sub_id]["l2_instance"] = name


def _vlans(node: Any, tree: Json) -> list[Json]:
    """VLANs of the L2 instances whose members and name are what rendering the VLAN would
    give; any other L2 instance is left out, so drift shows its VLAN as missing."""
    found = []
    for entry in entries(node, "network-instance"):
        if _instance_type(entry) not in _L2:
            continue
        name = str(member(entry, "name"))
        where = f"network-instances/network-instance[name={name}]"
        subs = {f"{s['parent']}.{s['vlan_id']}": s for s in tree["subinterfaces"]}
        members = sorted(_member_ids(entry, subs, where))
        for vlan in entries(entry, "vlans", "vlan"):
            config = member(vlan, "config") or {}
            item = {"vlan_id": member(vlan, "vlan-id"), "name": member(config, "name") or ""}
            found.append((name, _instance_type(entry), members, item))
    if not found:
        return []
    pairs = [(item["vlan_id"], item["name"]) for *_, item in found]
    names = l2_instance_names(pairs, (v["name"] for v in tree["vrfs"]))
    vlans = []
    for name, kind, members, item in found:
        expected = sorted(
            f"{s['parent']}.{s['vlan_id']}"
            for s in tree["subinterfaces"]
            if s["vlan_id"] == item["vlan_id"]
            and s.get("vrf") is None
            and s.get("l2_instance") is None
        )
        expected_kind = "L2P2P" if len(expected) == 2 else "L2VSI"
        if members == expected and kind == expected_kind and names[item["vlan_id"]] == name:
            vlans.append(item)
    return vlans


def _policers(node: Any, subs: dict[str, Json]) -> list[Json]:
    policers = []
    for policy in entries(node, "scheduler-policies", "scheduler-policy"):
        name = str(member(policy, "name"))
        where = f"qos/scheduler-policies/scheduler-policy[name={name}]"
        schedulers = entries(policy, "schedulers", "scheduler")
        if len(schedulers) != 1:
            raise OpenConfigError(f"{where}: expected exactly one scheduler (a policer)")
        rate = member(member(schedulers[0], "one-rate-two-color"), "config") or {}
        cir, bc = _number(member(rate, "cir")), _number(member(rate, "bc"))
        if cir is None or cir % 1_000_000 or (bc is not None and bc % 1000):
            raise OpenConfigError(f"{where}: cir/bc are not whole Mbit/s and kbytes")
        item: Json = {"name": name, "rate_mbps": cir // 1_000_000}
        if bc is not None:
            item["burst_kbytes"] = bc // 1000
        policers.append(item)
    for applied in entries(node, "interfaces", "interface"):
        ref = member(member(applied, "interface-ref"), "config") or {}
        sub_id = f"{member(ref, 'interface')}.{member(ref, 'subinterface')}"
        policy = member(
            member(member(member(applied, "input"), "scheduler-policy"), "config"), "name"
        )
        if sub_id in subs and policy is not None:
            subs[sub_id]["policer"] = policy
        elif policy is not None:
            raise OpenConfigError(
                f"qos/interfaces/interface[interface-id={sub_id}]: no such subinterface"
            )
    return policers


def _route_targets(node: Any) -> dict[str, str]:
    sets = entries(
        node, "defined-sets", "bgp-defined-sets", "ext-community-sets", "ext-community-set"
    )
    out = {}
    for entry in sets:
        config = member(entry, "config") or {}
        for value in member(config, "ext-community-member") or ():
            if isinstance(value, str) and value.startswith("route-target:"):
                out[str(member(entry, "ext-community-set-name"))] = value.removeprefix(
                    "route-target:"
                )
    return out


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def parse(document: Mapping[str, Any]) -> DeviceConfigTree:
    """The tree a device holding `document` (RFC 7951, keyed by top-level containers) is
    configured with, owners empty; `OpenConfigError` names the node that does not fit."""
    if not isinstance(document, Mapping):
        raise OpenConfigError("expected a JSON object of top-level containers")
    try:
        return DeviceConfigTree.model_validate(parse_document(document)).canonical()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise OpenConfigError(f"{where}: {error['msg']}" if where else str(error["msg"])) from exc
