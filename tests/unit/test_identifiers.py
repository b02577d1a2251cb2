"""Pool scopes and labels the API server accepts, and what a service's status says it holds."""

from __future__ import annotations

import re

import pytest

from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator.allocations import label_value
from intentloop_operator.identifiers import Identifiers, link_pool, port_pool

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@pytest.mark.parametrize(
    ("device", "interface"),
    [("r1", "eth1"), ("r1", "Ethernet1/1"), ("pe-7", "ge-0/0/1.0"), ("r" * 150, "x" * 64)],
)
def test_a_port_scope_is_an_object_name_and_ports_stay_apart(device: str, interface: str) -> None:
    name = port_pool(device, interface)
    assert DNS_SUBDOMAIN.match(name) and len(f"{name}-4094") <= 253, name
    assert port_pool(device, interface.upper()) != name or interface.upper() == interface
    label = label_value(name)
    assert LABEL.match(label) and len(label) <= 63, label


def test_case_and_punctuation_do_not_merge_two_ports() -> None:
    assert port_pool("r1", "Eth1") != port_pool("r1", "eth1")
    assert port_pool("r1", "ge-0/0/1") != port_pool("r1", "ge-0-0-1")


def test_long_links_and_labels_are_cut_but_kept_apart() -> None:
    a, b = link_pool("l" * 250 + "a"), link_pool("l" * 250 + "b")
    assert a != b and len(a) <= 242 and DNS_SUBDOMAIN.match(a)
    assert label_value("x" * 100 + "a") != label_value("x" * 100 + "b")


def test_status_says_the_vlan_at_each_port_the_tag_on_each_link_and_the_route_target() -> None:
    spec = NetworkServiceSpec.model_validate(
        {
            "type": "l3vpn",
            "endpoints": [
                {"device": "r1", "interface": "eth1", "vlan": 10},
                {"device": "r3", "interface": "eth1"},
            ],
            "bandwidthMbps": 5,
        }
    )
    held = Identifiers((10, 200), {"r2-r3": 1001, "r1-r2": 1000}, 4_000_000_000)
    assert held.status(spec) == {
        "endpoints": [
            {"device": "r1", "interface": "eth1", "vlan": 10},
            {"device": "r3", "interface": "eth1", "vlan": 200},
        ],
        "linkTags": {"r1-r2": 1000, "r2-r3": 1001},
        "serviceId": 4_000_000_000,
        "routeTarget": "65000:4000000000",
    }
