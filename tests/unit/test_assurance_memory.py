"""The remediation loop's memory is per service object, not per name."""

from __future__ import annotations

from typing import Any

from intentloop_operator.assurance import Assurance
from intentloop_operator.runtime import Runtime


def _service(uid: str) -> dict[str, Any]:
    return {"metadata": {"name": "s-000", "namespace": "ns", "uid": uid}, "spec": {}, "status": {}}


def test_a_recreated_service_does_not_inherit_its_predecessors_budget() -> None:
    rt = Runtime()
    loop = Assurance(rt, batcher=None)  # type: ignore[arg-type]
    rt.services["ns/s-000"] = _service("uid-1")
    loop._forget_gone()
    for moment in range(loop.damper.max_per_window):
        loop.damper.record("ns/s-000", float(moment * 5))
    loop.tried_reason["ns/s-000"] = "NoRoute"
    assert not loop.damper.allow("ns/s-000", 31.0)
    rt.services["ns/s-000"] = _service("uid-2")  # deleted and created again
    loop._forget_gone()
    assert loop.damper.allow("ns/s-000", 31.0)
    assert "ns/s-000" not in loop.tried_reason
    del rt.services["ns/s-000"]  # gone for good: nothing kept
    loop._forget_gone()
    assert "ns/s-000" not in loop.uids
