"""A Transaction recorded in a tenant's namespace shows only that tenant's part of the change."""

from __future__ import annotations

from intentloop_adapters import transactions as tx
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface
from intentloop_operator import tenantview
from intentloop_operator.runtime import Runtime

A, A2, B = "tenant-a/camera", "tenant-a/robots", "tenant-b/branch"


def _tree(*owners_of_core: str, with_a2: bool) -> DeviceConfigTree:
    subs = [SubInterface(parent="core-r3", vlan_id=692, owners=frozenset({B}))]
    policers = [Policer(name="pol-tenant-b.branch", rate_mbps=500, owners=frozenset({B}))]
    if with_a2:
        subs.append(SubInterface(parent="core-r3", vlan_id=123, owners=frozenset({A2})))
    return DeviceConfigTree(
        interfaces=(Interface(name="core-r3", owners=frozenset(owners_of_core)),),
        policers=tuple(policers),
        subinterfaces=tuple(subs),
    )


def test_the_tenants_record_names_only_its_own_items_and_owners() -> None:
    before = {"r2": _tree(A, B, with_a2=False)}
    after = {"r2": _tree(A, A2, B, with_a2=True)}
    failure = tx.DeviceFailure(
        device="r2",
        phase=tx.Phase.VERIFY,
        message="running differs after commit:\n~ policers[pol-tenant-b.branch].rate: 5 -> 7",
        transient=False,
    )
    native = "/device/interface[name=core-r3]/owner: ['tenant-a/camera', 'tenant-b/branch']"
    result = tx.TransactionResult(
        transaction_id="t1",
        outcome=tx.Outcome.ROLLED_BACK,
        devices={
            "r2": tx.DeviceResult(device="r2", changed=True, native_diff=native, error=failure)
        },
        failure=failure,
    )
    seen = tenantview.for_tenant(Runtime(), result, "tenant-a", before, after)
    shown = seen.model_dump_json()
    assert "tenant-b" not in shown and "branch" not in shown, shown
    diff = seen.devices["r2"].native_diff
    assert "core-r3" in diff and "tenant-a/robots" in diff and "123" in diff, diff
    assert "692" not in diff  # B's sub-interface on the shared port is not A's to see
    assert result.devices["r2"].native_diff == native  # the operator's own copy is untouched


def test_a_device_with_nothing_to_change_shows_no_diff() -> None:
    tree = {"r2": _tree(A, B, with_a2=False)}
    result = tx.TransactionResult(
        transaction_id="t2",
        outcome=tx.Outcome.NO_CHANGE,
        devices={"r2": tx.DeviceResult(device="r2")},
    )
    seen = tenantview.for_tenant(Runtime(), result, "tenant-a", tree, tree)
    assert seen.devices["r2"].native_diff == ""
