"""The OpenConfig lab router's store: gNMI's update/replace/delete semantics on one
document, every candidate validated by the real ygot validator (a pipe, milliseconds)."""

from __future__ import annotations

import pytest

from intentloop_lab import ocvalidator
from intentloop_lab.gnmi_octree import OpenConfigTree, openconfig_config_elems
from intentloop_lab.gnmi_schema import SchemaError
from intentloop_lab.gnmi_tree import PathError

pytestmark = pytest.mark.lab
IFACES = [("interfaces", {})]


def interface(name: str, **config: object) -> dict[str, object]:
    body = {"name": name, "type": "iana-if-type:ethernetCsmacd", **config}
    return {"name": name, "config": body}


def tree() -> OpenConfigTree:
    store = OpenConfigTree(ocvalidator.shared())
    store.write(IFACES, {"interface": [interface("eth1", mtu=1500)]}, replace=False)
    store.validate()
    return store


def test_an_update_merges_list_entries_by_key_and_keeps_the_others() -> None:
    store = tree()
    store.write(
        IFACES,
        {"interface": [interface("eth2"), interface("eth1", description="x")]},
        replace=False,
    )
    store.validate()
    entries = {e["name"]: e["config"] for e in store.read(IFACES)["interface"]}
    assert set(entries) == {"eth1", "eth2"}
    assert entries["eth1"]["mtu"] == 1500 and entries["eth1"]["description"] == "x"


def test_a_replace_of_an_entry_drops_what_it_does_not_carry() -> None:
    store = tree()
    path = [*IFACES, ("interface", {"name": "eth1"})]
    store.write(path, interface("eth1", description="only this"), replace=True)
    store.validate()
    assert store.read([*path, ("config", {})]) == {
        "name": "eth1",
        "type": "iana-if-type:ethernetCsmacd",
        "description": "only this",
    }


def test_deleting_what_is_not_there_is_not_an_error_and_reading_it_is() -> None:
    store = tree()
    store.delete([*IFACES, ("interface", {"name": "eth9"})])
    with pytest.raises(PathError):
        store.read([*IFACES, ("interface", {"name": "eth9"})])
    assert store.read([("qos", {})]) == {}  # a served container, empty


def test_the_validator_refuses_the_candidate_naming_the_node() -> None:
    store = tree()
    store.write(
        [*IFACES, ("interface", {"name": "eth1"}), ("config", {}), ("mtu", {})],
        70000,
        replace=False,
    )
    with pytest.raises(SchemaError, match="mtu"):
        store.validate()


def test_paths_outside_the_served_models_are_refused_and_state_is_not_config() -> None:
    store = tree()
    with pytest.raises(PathError):
        store.write([("acl", {}), ("acl-sets", {})], {}, replace=False)
    with pytest.raises(SchemaError, match="wildcards"):
        store.write([*IFACES, ("interface", {"name": "*"}), ("config", {})], {}, replace=False)
    state = (
        ("interfaces", ()),
        ("interface", (("name", "eth1"),)),
        ("state", ()),
        ("oper-status", ()),
    )
    assert openconfig_config_elems("", state) is None
    assert openconfig_config_elems("", state[:2]) == [
        ("interfaces", {}),
        ("interface", {"name": "eth1"}),
    ]
