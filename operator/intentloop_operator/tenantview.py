"""What a tenant reads of a transaction: only its own items, in each device's own language.

A transaction recorded in a tenant's namespace (its own changes, its dry runs) would
otherwise show whole shared items — a core port with every service routed over it in its
owner list — and other tenants' policers and sub-interfaces on the same device. Here each
device's native diff is rendered again from the tenant's view of the trees before and after
(items one of its intents owns, owner lists cut to its own), and every other tenant's
intent name is taken out of device error messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from intentloop_adapters import transactions as tx
from intentloop_adapters.factory import kind_of
from intentloop_intents import tenancy
from intentloop_intents.device import DeviceConfigTree, gnmi_json
from intentloop_intents.device import xml as device_xml
from intentloop_operator.runtime import Runtime

EMPTY = DeviceConfigTree()
INFRA_NAMESPACE = "intentloop-system"  # the platform team's: records there are whole


def native_diff(rt: Runtime, device: str, before: DeviceConfigTree, after: DeviceConfigTree) -> str:
    spec = rt.devices.get(device)
    if spec is not None and kind_of(spec) == "netconf":
        edit = device_xml.minimal_edit(before, after)
        return "" if edit is None else device_xml.to_text(edit)
    return gnmi_json.render_edits(gnmi_json.edits_between(before, after))


def readable(
    rt: Runtime,
    namespace: str,
    result: tx.TransactionResult,
    before: Mapping[str, DeviceConfigTree],
    after: Mapping[str, DeviceConfigTree],
) -> tx.TransactionResult:
    """The record as whoever reads `namespace` may see it: a tenant only its own items."""
    if namespace == INFRA_NAMESPACE:
        return result
    return for_tenant(rt, result, namespace, before, after)


def for_tenant(
    rt: Runtime,
    result: tx.TransactionResult,
    namespace: str,
    before: Mapping[str, DeviceConfigTree],
    after: Mapping[str, DeviceConfigTree],
) -> tx.TransactionResult:
    """`result` as the tenant `namespace` may read it."""
    foreign = tenancy.foreign_owners([*before.values(), *after.values()], namespace)
    devices = {}
    for name, d in result.devices.items():
        diff = ""
        if d.native_diff:  # the device had something to change: show the tenant's part of it
            old = tenancy.tenant_view(before.get(name, EMPTY), namespace)
            new = tenancy.tenant_view(after.get(name, EMPTY), namespace)
            diff = native_diff(rt, name, old, new)
        devices[name] = d.model_copy(
            update={
                "native_diff": diff,
                "error": _redacted(d.error, foreign),
                "rollback_error": _redacted(d.rollback_error, foreign),
            }
        )
    return result.model_copy(
        update={"devices": devices, "failure": _redacted(result.failure, foreign)}
    )


def _redacted(failure: tx.DeviceFailure | None, foreign: Iterable[str]) -> tx.DeviceFailure | None:
    if failure is None:
        return None
    return failure.model_copy(update={"message": tenancy.redact(failure.message, foreign)})
