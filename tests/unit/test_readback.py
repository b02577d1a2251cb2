"""The read-back shortcut: sound (never a different answer than a full parse), and taken."""

from __future__ import annotations

import json

from lxml import etree

from intentloop_adapters import netconf_steps
from intentloop_adapters.readback import ReadCache, json_normal, xml_normal
from intentloop_intents.device import DeviceConfigTree, Interface, SubInterface, Vlan
from intentloop_intents.device import xml as device_xml
from intentloop_intents.device.gnmi_json import tree_from_json, tree_to_json

TREE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", mtu=9000, owners=frozenset({"a/x", "b/y"})),),
    vlans=(Vlan(vlan_id=10, name="x", owners=frozenset({"a/x"})), Vlan(vlan_id=20, name="y")),
    subinterfaces=(SubInterface(parent="eth1", vlan_id=10, owners=frozenset({"a/x"})),),
)
OTHER = DeviceConfigTree(vlans=(Vlan(vlan_id=10, name="x", owners=frozenset({"a/x"})),))


def _json_reads() -> ReadCache:
    return ReadCache(lambda tree: json_normal(tree_to_json(tree)))


def _read_json(reads: ReadCache, raw: bytes) -> DeviceConfigTree:
    return reads.read(
        raw, lambda: json_normal(json.loads(raw)), lambda: tree_from_json(json.loads(raw))
    )


def test_json_normal_ignores_order_but_not_content() -> None:
    body = tree_to_json(TREE)
    shuffled = {k: list(reversed(v)) for k, v in reversed(list(body.items()))}
    for entries in shuffled.values():
        for entry in entries:
            if "owner" in entry:
                entry["owner"] = list(reversed(entry["owner"]))
    assert json_normal(shuffled) == json_normal(body)
    changed = json.loads(json.dumps(body))
    changed["vlan"][0]["name"] = "z"
    assert json_normal(changed) != json_normal(body)
    assert json_normal({"a": True}) != json_normal({"a": 1})
    assert json_normal({"a": [1, 1]}) != json_normal({"a": [1]})


def test_a_reply_matching_the_expected_tree_is_not_parsed_and_gives_the_same_answer() -> None:
    reads = _json_reads()
    reads.expect(TREE)
    raw = json.dumps({k: list(reversed(v)) for k, v in tree_to_json(TREE).items()}).encode()
    assert _read_json(reads, raw) == tree_from_json(json.loads(raw)) == TREE.canonical()
    assert (reads.matches, reads.parses) == (1, 0)
    assert _read_json(reads, raw) == TREE.canonical()
    assert reads.hits == 1


def test_a_reply_that_differs_from_expectations_is_parsed_in_full() -> None:
    reads = _json_reads()
    reads.expect(TREE)
    raw = json.dumps(tree_to_json(OTHER)).encode()
    assert _read_json(reads, raw) == OTHER.canonical()
    assert (reads.matches, reads.parses) == (0, 1)
    # a new reply after that is read again, not taken from the previous one
    assert _read_json(reads, json.dumps(tree_to_json(TREE)).encode()) == TREE.canonical()


def test_xml_normal_ignores_sibling_order() -> None:
    device = device_xml.render_device(TREE)
    reordered = etree.Element(device.tag, nsmap=device.nsmap)
    for child in reversed(list(device)):
        entry = etree.SubElement(reordered, child.tag)
        for leaf in reversed(list(child)):
            etree.SubElement(entry, leaf.tag).text = leaf.text
    assert xml_normal(reordered) == xml_normal(device)
    assert device_xml.parse_device(reordered).canonical() == TREE.canonical()
    reordered[0][0].text = "eth9"
    assert xml_normal(reordered) != xml_normal(device)


class _Reply:
    def __init__(self, xml: str) -> None:
        self.xml = xml


class _Session:
    """Just enough of an ncclient session for read_running: replies with fresh message ids."""

    def __init__(self, tree: DeviceConfigTree) -> None:
        self.tree = tree
        self.count = 0

    def get_config(self, *, source: str, filter: object) -> _Reply:
        self.count += 1
        data = etree.tostring(device_xml.render_device(self.tree), encoding="unicode")
        return _Reply(
            f'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
            f'message-id="urn:uuid:{self.count}"><data>{data}</data></rpc-reply>'
        )


def test_netconf_read_running_uses_the_shortcut_across_message_ids() -> None:
    reads = netconf_steps.read_cache()
    session = _Session(TREE)
    reads.expect(TREE)
    assert netconf_steps.read_running(session, reads) == TREE.canonical()
    assert netconf_steps.read_running(session, reads) == TREE.canonical()
    assert (reads.matches, reads.hits, reads.parses) == (1, 1, 0)
    session.tree = OTHER
    assert netconf_steps.read_running(session, reads) == OTHER.canonical()
    assert reads.parses == 1
    session.tree = DeviceConfigTree()
    reads.expect(DeviceConfigTree())
    assert netconf_steps.read_running(session, reads) == DeviceConfigTree()
