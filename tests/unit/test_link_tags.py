"""Per-link tags through provisioning: a link whose tag space is full is routed around,
nothing is left held on links a service does not use, and a deletion gives everything back.

Runs `services.realise` against the in-memory API server and network of
`test_deletion_vs_repath` (r1, r2, r3 in a triangle), with a tag space of one value per link.
"""

from __future__ import annotations

import pytest

from intentloop_intents.resources.services import NetworkServiceSpec
from intentloop_operator import services
from intentloop_operator.identifiers import LinkFull
from intentloop_operator.outcomes import Outcome
from tests.unit.test_deletion_vs_repath import SPEC, Batcher, Network, _runtime, network

__all__ = ["network"]  # the fixture, used by name

ONE_TAG = {
    "metadata": {"name": "tags"},
    "spec": {"kind": "linkTag", "ranges": [{"start": 7, "end": 7}]},
}


def _held(net: Network, owner: str) -> dict[str, int]:
    return {
        a["spec"]["pool"]: a["spec"]["value"]
        for a in net.objects["allocations"].values()
        if a["spec"]["owner"] == owner
    }


async def test_a_full_link_is_routed_around_and_nothing_stays_held_off_the_route(
    network: Network,
) -> None:
    network.objects["resourcepools"]["tags"] = ONE_TAG
    rt, batcher = _runtime(), Batcher(network)
    spec = NetworkServiceSpec.model_validate(SPEC)
    first, ids, _ = await services.realise(rt, batcher, "tenant", "one", "u1", spec)  # type: ignore[arg-type]
    assert first.primary.links == ("r1-r3",) and ids.link_tags == {"r1-r3": 7}
    second, ids, _ = await services.realise(rt, batcher, "tenant", "two", "u2", spec)  # type: ignore[arg-type]
    assert second.primary.links == ("r1-r2", "r2-r3")  # r1-r3 has no tag left
    assert ids.link_tags == {"r1-r2": 7, "r2-r3": 7}
    assert ids.endpoint_vlans != (await _vlans(rt, batcher, "one"))  # per port: distinct
    links = {p for p in _held(network, "tenant/two") if p.startswith("link.")}
    assert links == {"link.r1-r2", "link.r2-r3"}
    with pytest.raises(Outcome) as waiting:  # every route is out of tags: it waits
        await services.realise(rt, batcher, "tenant", "three", "u3", spec)  # type: ignore[arg-type]
    assert waiting.value.reason == "AllocationFailed"
    assert "no free tag is left" in str(waiting.value)
    assert not any(p.startswith("link.") for p in _held(network, "tenant/three"))


async def _vlans(rt: object, batcher: Batcher, name: str) -> tuple[int, ...]:
    spec = NetworkServiceSpec.model_validate(SPEC)
    _, ids, _ = await services.realise(rt, batcher, "tenant", name, "u1", spec)  # type: ignore[arg-type]
    return ids.endpoint_vlans


def test_a_full_link_names_the_link() -> None:
    e = LinkFull("r1-r3", "link r1-r3: no free tag is left")
    assert e.link == "r1-r3" and "r1-r3" in str(e)
