"""Pure tenancy rules: port ownership, what a tenant's view of shared config keeps."""

from __future__ import annotations

from intentloop_intents import tenancy
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan


def test_the_assignment_name_is_the_port_so_a_port_has_one_assignment() -> None:
    assert tenancy.assignment_name("r1", "eth1") == "r1.eth1"
    assert tenancy.assignment_name("pe1", "Ethernet1/0:2_b") == "pe1.ethernet1-0-2-b"


def test_ports_not_assigned_to_the_namespace_are_named_but_not_their_holder() -> None:
    assigned = {("r3", "eth2"): "tenant-b", ("r1", "eth1"): "tenant-a"}
    assert tenancy.unassigned("tenant-a", [("r1", "eth1")], assigned) is None
    one = tenancy.unassigned("tenant-a", [("r1", "eth1"), ("r3", "eth2")], assigned)
    assert one is not None and one.ports == (("r3", "eth2"),)
    assert one.message.startswith("r3/eth2 is not assigned to namespace tenant-a")
    assert "tenant-b" not in one.message
    two = tenancy.unassigned("tenant-a", [("r3", "eth2"), ("r9", "eth1"), ("r3", "eth2")], assigned)
    assert two is not None
    assert two.message.startswith("r3/eth2, r9/eth1 are not assigned to namespace tenant-a")


def _shared_tree() -> DeviceConfigTree:
    a, b = "tenant-a/camera", "tenant-b/branch"
    return DeviceConfigTree(
        interfaces=(
            Interface(name="core-r3", owners=frozenset({a, b})),
            Interface(name="eth2", owners=frozenset({b})),
        ),
        vlans=(Vlan(vlan_id=122, owners=frozenset({a})), Vlan(vlan_id=692, owners=frozenset({b}))),
        policers=(Policer(name="pol-tenant-b.branch", rate_mbps=500, owners=frozenset({b})),),
        subinterfaces=(
            SubInterface(parent="core-r3", vlan_id=122, owners=frozenset({a})),
            SubInterface(
                parent="eth2", vlan_id=692, policer="pol-tenant-b.branch", owners=frozenset({b})
            ),
        ),
    )


def test_a_tenants_view_keeps_its_items_with_only_its_owners() -> None:
    view = tenancy.tenant_view(_shared_tree(), "tenant-a")
    assert view.interfaces == (Interface(name="core-r3", owners=frozenset({"tenant-a/camera"})),)
    assert [v.vlan_id for v in view.vlans] == [122]
    assert view.policers == ()
    assert [s.name for s in view.subinterfaces] == ["core-r3.122"]
    assert "tenant-b" not in view.model_dump_json()
    assert tenancy.tenant_view(_shared_tree(), "tenant-c") == DeviceConfigTree()


def test_other_tenants_owners_are_found_and_redacted_in_every_spelling() -> None:
    foreign = tenancy.foreign_owners([_shared_tree()], "tenant-a")
    assert foreign == {"tenant-b/branch"}
    text = "r3: policer pol-tenant-b.branch: rate 5 and 7 conflict (wanted by tenant-b/branch)"
    shown = tenancy.redact(text, foreign)
    assert "tenant-b" not in shown and "branch" not in shown
    assert shown.startswith("r3: policer pol-(another intent): rate 5 and 7 conflict")
    assert tenancy.owned_by("tenant-a", "slice:tenant-a/s")
    assert not tenancy.owned_by("tenant-a", "tenant-ab/s")
