"""Only a fault in the service's own spec is final; the rest waits, in words a person reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from intentloop_intents import allocation as alloc
from intentloop_intents import composition
from intentloop_intents.paths import Hop, Path
from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import allocations, outcomes, realising, routing
from intentloop_operator.identifiers import Identifiers
from intentloop_operator.runtime import Runtime


def _invalid_spec() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        NetworkServiceSpec.model_validate({"endpoints": [], "bandwidthMbps": 0})
    return caught.value


def test_an_invalid_spec_is_final_and_said_without_pydantics_dump() -> None:
    outcome = outcomes.classify(_invalid_spec())
    assert (outcome.reason, outcome.retry, outcome.waiting) == ("InvalidSpec", False, False)
    message = str(outcome)
    assert "bandwidthMbps" in message or "bandwidth_mbps" in message, message
    assert "pydantic" not in message and "input_value" not in message, message


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (allocations.NoPool("no ResourcePool of kind vlan exists"), "AllocationFailed"),
        (alloc.ValueUnavailable("3001 is outside pool p (100-999)"), "AllocationFailed"),
        (routing.NotRoutable("PortConflict", "r3/eth1 is ..."), "PortConflict"),
        (routing.NotRoutable("InsufficientBandwidth", "link r1-r2: ..."), "InsufficientBandwidth"),
        (outcomes.CompilationError("route visits a device twice"), "CompilationFailed"),
        (composition.ConfigConflict("r1", "vlan 5", "name", "a", "b", "x, y"), "ConfigConflict"),
    ],
)
def test_what_depends_on_the_world_waits(error: Exception, reason: str) -> None:
    outcome = outcomes.classify(error)
    assert (outcome.reason, outcome.retry, outcome.waiting) == (reason, True, True)
    assert outcome.phase == "Failed"


def test_an_unknown_error_is_not_swallowed() -> None:
    with pytest.raises(KeyError):
        outcomes.classify(KeyError("boom"))


def test_a_customer_port_used_by_a_link_is_named_with_the_link() -> None:
    rt = Runtime()
    for device in ("r3", "r6"):
        rt.topology.upsert_device(device, reachable=True)
    rt.upsert_link(
        "r3-r6",
        {
            "a": {"device": "r3", "interface": "eth2"},
            "b": {"device": "r6", "interface": "core-r3"},
            "capacityMbps": 1000,
        },
        {},
    )
    rt.upsert_link(  # a second link so that the route itself would exist
        "r3-r6-b",
        {
            "a": {"device": "r3", "interface": "core-r6"},
            "b": {"device": "r6", "interface": "core-r3b"},
            "capacityMbps": 1000,
        },
        {},
    )
    spec = NetworkServiceSpec.model_validate(
        {
            "endpoints": [
                {"device": "r3", "interface": "eth2"},
                {"device": "r6", "interface": "eth2"},
            ],
            "bandwidthMbps": 10,
        }
    )
    with pytest.raises(routing.NotRoutable) as caught:
        routing.route(rt, "tenant", "svc", spec)
    assert caught.value.reason == "PortConflict"
    assert str(caught.value).startswith(
        "r3/eth2 is a customer port of this service but Link r3-r6 uses it as a core port"
    )


def test_a_compiler_refusal_is_a_sentence() -> None:
    spec = NetworkServiceSpec.model_validate(
        {
            "endpoints": [
                {"device": "r1", "interface": "eth1"},
                {"device": "r2", "interface": "eth1"},
            ],
            "bandwidthMbps": 10,
        }
    )
    hops = (Hop("r1", None, "eth1"), Hop("r2", "core-r1", None))  # leaves r1 by its customer port
    path = Path(
        links=("r1-r2",),
        devices=("r1", "r2"),
        hops=hops,
        cost=10.0,
        latency_ms=1.0,
        free_mbps=100.0,
        srlgs=frozenset(),
    )
    r = routing.Routing(primary=path, backup=None, routes=(path,))
    with pytest.raises(outcomes.CompilationError) as caught:
        ids = Identifiers(endpoint_vlans=(100, 100), link_tags={"r1-r2": 7}, service_id=1)
        realising.compile_service("tenant/svc", spec, r, ids, 65000)
    assert str(caught.value) == "r1:eth1 is both a customer port and a core port"
