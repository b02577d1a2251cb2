"""A restart adopts what the devices already carry: no route search, no transaction.

The operator's real Runtime is loaded from object lists shaped as the API server returns
them; the resume handler runs with a batcher that fails the test if anything is sent.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, cast

import kopf
import pytest

from intentloop_operator import resumption, services
from intentloop_operator.runtime import Runtime

DEVICE = {"address": "127.0.0.1", "platform": "lab", "gnmi": {"port": 1, "insecure": True}}


def _device(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": DEVICE, "status": {"reachable": True}}


def _link(a: str, b: str) -> dict[str, Any]:
    spec = {
        "a": {"device": a, "interface": f"to-{b}"},
        "b": {"device": b, "interface": f"to-{a}"},
        "capacityMbps": 1000,
        "latencyMs": 1,
    }
    return {"metadata": {"name": f"{a}-{b}"}, "spec": spec, "status": {"operState": "up"}}


def _config(device: str, *owners: str) -> dict[str, Any]:
    subs = [
        {"parent": "eth1", "vlanId": 100 + i, "owners": [owner]} for i, owner in enumerate(owners)
    ]
    spec = {"device": device, "config": {"subinterfaces": subs}}
    return {"metadata": {"name": device}, "spec": spec}


def _service(name: str, *, generation: int = 1, observed: int = 1, phase: str = "Ready") -> Any:
    return {
        "metadata": {"name": name, "namespace": "t", "uid": name, "generation": generation},
        "spec": {
            "type": "l2-p2p",
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r3", "interface": "eth1"},
            ],
            "bandwidthMbps": 10,
        },
        "status": {
            "phase": phase,
            "observedGeneration": observed,
            "path": ["r1", "r2", "r3"],
            "pathLinks": ["r1-r2", "r2-r3"],
        },
    }


def _runtime(svcs: list[dict[str, Any]], configs: list[dict[str, Any]]) -> Runtime:
    rt = Runtime()
    rt.load(
        devices=[_device(d) for d in ("r1", "r2", "r3")],
        links=[_link("r1", "r2"), _link("r2", "r3")],
        device_configs=configs,
        slices=[],
        services=svcs,
    )
    return rt


def _whole(*owners: str) -> list[dict[str, Any]]:
    return [_config(d, *owners) for d in ("r1", "r2", "r3")]


def test_a_ready_service_whose_config_every_device_of_its_path_carries_is_adoptable() -> None:
    svc = _service("a")
    rt = _runtime([svc], _whole("t/a"))
    assert rt.resumption.adoptable("t/a", svc, rt.link_ends_by_name())


@pytest.mark.parametrize(
    ("service", "configs", "why"),
    [
        (_service("a", generation=2, observed=1), _whole("t/a"), "spec changed since Ready"),
        (_service("a", phase="Provisioning"), _whole("t/a"), "was not Ready"),
        (_service("a"), [_config("r1", "t/a"), _config("r3", "t/a")], "a transit device lacks it"),
        (_service("a"), [*_whole("t/a"), _config("r4", "t/a")], "config on a device off its path"),
    ],
)
def test_anything_short_of_the_stored_realisation_is_recomputed(
    service: dict[str, Any], configs: list[dict[str, Any]], why: str
) -> None:
    rt = _runtime([service], configs)
    assert not rt.resumption.adoptable("t/a", service, rt.link_ends_by_name()), why


def test_a_service_whose_path_link_is_gone_is_recomputed() -> None:
    svc = _service("a")
    rt = _runtime([svc], _whole("t/a"))
    ends = rt.link_ends_by_name()
    del ends["r2-r3"]
    assert not rt.resumption.adoptable("t/a", svc, ends)


def test_readiness_waits_for_every_listed_service_then_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = _runtime([_service("a"), _service("b", phase="Failed")], _whole("t/a"))
    assert rt.resumption.pending == {"t/a", "t/b"}
    assert not rt.resumption.ready()
    rt.resumption.done("t/a")
    assert not rt.resumption.ready()
    rt.resumption.done("t/b")
    assert rt.resumption.ready()


def test_readiness_does_not_wait_for_ever_on_one_stuck_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = _runtime([_service("a")], _whole("t/a"))
    monkeypatch.setattr(resumption, "GRACE_S", -1.0)
    assert rt.resumption.ready()


class RefusingBatcher:
    async def submit(self, *_: Any) -> Any:
        raise AssertionError("a resumed service that the devices carry sent a change")


async def test_the_resume_handler_adopts_without_sending_or_writing_anything() -> None:
    svc = _service("a")
    rt = _runtime([svc], _whole("t/a"))
    memo = kopf.Memo()
    memo.runtime, memo.batcher = rt, RefusingBatcher()
    patch = kopf.Patch()
    await services.service_resumed(
        started=datetime.now(UTC),
        namespace="t",
        name="a",
        uid="a",
        body=kopf.Body(cast(Any, copy.deepcopy(svc))),
        patch=patch,
        memo=memo,
    )
    assert dict(patch) == {}
    assert rt.resumption.adopted == 1 and rt.resumption.ready()
    assert rt.services["t/a"]["status"]["pathLinks"] == ["r1-r2", "r2-r3"]
    assert rt.topology.reservation("t/a") is not None  # its capacity stays held
