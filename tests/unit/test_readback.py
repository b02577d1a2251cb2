"""The read-back shortcut: sound (never a different answer than a full parse), and taken."""

from __future__ import annotations

import copy
import json

from lxml import etree

from intentloop_adapters import netconf_steps
from intentloop_adapters.gnmi_profiles import INTENTLOOP
from intentloop_adapters.readback import ReadCache, xml_form
from intentloop_intents.device import DeviceConfigTree, Interface, SubInterface, Vlan
from intentloop_intents.device import xml as device_xml
from intentloop_intents.device.gnmi_json import tree_from_json, tree_to_json

TREE = DeviceConfigTree(
    interfaces=(Interface(name="eth1", mtu=9000, owners=frozenset({"a/x", "b/y"})),),
    vlans=(Vlan(vlan_id=10, name="x", owners=frozenset({"a/x"})), Vlan(vlan_id=20, name="y")),
    subinterfaces=(SubInterface(parent="eth1", vlan_id=10, owners=frozenset({"a/x"})),),
)
OTHER = DeviceConfigTree(vlans=(Vlan(vlan_id=10, name="x", owners=frozenset({"a/x"})),))


def _read_json(reads: ReadCache, raw: bytes) -> DeviceConfigTree:
    return reads.read(raw, lambda: raw, lambda: tree_from_json(json.loads(raw)))


def test_a_reply_in_the_expected_form_is_not_parsed_and_gives_the_same_answer() -> None:
    reads = ReadCache(INTENTLOOP.form)
    reads.expect(TREE)
    raw = json.dumps(tree_to_json(TREE), separators=(",", ":")).encode()
    assert _read_json(reads, raw) == tree_from_json(json.loads(raw)) == TREE.canonical()
    assert (reads.matches, reads.parses) == (1, 0)
    assert _read_json(reads, raw) == TREE.canonical()
    assert reads.hits == 1


def test_a_reply_in_another_order_or_content_is_parsed_in_full() -> None:
    reads = ReadCache(INTENTLOOP.form)
    reads.expect(TREE)
    reordered = {k: list(reversed(v)) for k, v in tree_to_json(TREE).items()}
    assert _read_json(reads, json.dumps(reordered).encode()) == TREE.canonical()
    assert (reads.matches, reads.parses) == (0, 1)
    assert _read_json(reads, json.dumps(tree_to_json(OTHER)).encode()) == OTHER.canonical()
    assert reads.parses == 2


def test_xml_form_tells_nesting_and_leaf_text_apart() -> None:
    device = device_xml.render_device(TREE)
    same = device_xml.parse_document(etree.tostring(device, pretty_print=True))
    assert xml_form(same) == xml_form(device)  # layout between elements does not count
    flattened = etree.Element(device.tag, nsmap=device.nsmap)
    for entry in copy.deepcopy(device):
        for leaf in list(entry):
            flattened.append(leaf)  # same elements in the same order, other nesting
    assert xml_form(flattened) != xml_form(device)
    padded = device_xml.parse_document(etree.tostring(device))
    padded[0][0].text = " eth1"  # a leaf's text is data: a space matters
    assert xml_form(padded) != xml_form(device)


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
        device = etree.tostring(
            device_xml.render_device(self.tree), pretty_print=True, encoding="unicode"
        )
        return _Reply(
            f'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" '
            f'message-id="urn:uuid:{self.count}"><data>{device}</data></rpc-reply>'
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
