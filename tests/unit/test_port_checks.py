"""Which ports an intent may take, and which it keeps although they lost their assignment."""

from __future__ import annotations

from intentloop_intents.resources.services import Endpoint
from intentloop_operator import ports
from intentloop_operator.runtime import Runtime


def _ends(*pairs: tuple[str, str]) -> list[Endpoint]:
    return [Endpoint(device=d, interface=i) for d, i in pairs]


def _running(*pairs: tuple[str, str], phase: str = "Ready") -> dict[str, object]:
    return {
        "spec": {"endpoints": [{"device": d, "interface": i} for d, i in pairs]},
        "status": {"phase": phase},
    }


def test_a_new_intent_may_take_only_its_namespaces_ports() -> None:
    rt = Runtime()
    ports.load(
        rt,
        [
            {"spec": {"device": "r1", "interface": "eth1", "tenant": "a"}},
            {"spec": {"device": "r3", "interface": "eth2", "tenant": "b"}},
        ],
    )
    assert ports.check(rt, "a", _ends(("r1", "eth1")), None) == (None, None)
    refused, kept = ports.check(rt, "a", _ends(("r1", "eth1"), ("r3", "eth2")), None)
    assert refused is not None and refused.ports == (("r3", "eth2"),) and kept is None
    # a service that only failed before holds nothing: still refused
    failed = _running(("r1", "eth1"), ("r3", "eth2"), phase="Failed")
    assert ports.check(rt, "a", _ends(("r1", "eth1"), ("r3", "eth2")), failed)[0] is not None


def test_a_running_intent_keeps_a_port_that_lost_its_assignment_but_takes_no_new_one() -> None:
    rt = Runtime()
    ports.load(rt, [{"spec": {"device": "r1", "interface": "eth1", "tenant": "a"}}])
    running = _running(("r1", "eth1"), ("r4", "eth1"))
    refused, kept = ports.check(rt, "a", _ends(("r1", "eth1"), ("r4", "eth1")), running)
    assert refused is None and kept is not None and kept.ports == (("r4", "eth1"),)
    conds = ports.degraded([], kept, 3)
    assert [(c["type"], c["status"], c["reason"]) for c in conds] == [
        ("Degraded", "True", "PortNotAssigned")
    ]
    assert "r4/eth1 is not assigned to namespace a" in conds[0]["message"]
    moved, _ = ports.check(rt, "a", _ends(("r1", "eth1"), ("r5", "eth1")), running)
    assert moved is not None and moved.ports == (("r5", "eth1"),)
    assert ports.degraded([], None, 3) == []
