"""Hub delivery survives a listener down for a minute and a SIGKILL of the component:
events arrive at least once, in order per resource."""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.conftest import Cluster, Operator, wait_for
from tests.e2e.northbound import Api, Caller, Listener
from tests.e2e.tmf.test_orders import ORDERS, item

HUB = "/tmf-api/serviceOrdering/v4/hub"
# How long the listener stays down (the issue: a minute).
DOWN_S = float(os.environ.get("INTENTLOOP_TEST_LISTENER_DOWN_S", "60"))
LIFECYCLE = ["acknowledged", "inProgress", "completed"]


def _states(listener: Listener, ident: str) -> list[str]:
    return [o["state"] for o in listener.of("ServiceOrderStateChangeEvent", "serviceOrder", ident)]


def _in_order(states: list[str]) -> bool:
    ranks = [LIFECYCLE.index(s) for s in states]
    return ranks == sorted(ranks)


@pytest.mark.e2e
def test_events_survive_a_listener_down_for_a_minute_and_a_killed_component(
    cluster: Cluster, operator: Operator, api: Api, bss: Caller
) -> None:
    listener = Listener()
    try:
        assert bss.post(HUB, {"callback": listener.url}).status_code == 201
        first = bss.post(ORDERS, {"serviceOrderItem": [item(1, "add", "hub-a", "r1", "r2")]})
        first_id = first.json()["id"]
        wait_for(
            lambda: "completed" in _states(listener, first_id),
            timeout=60,
            what="first order's completed event",
        )
        listener.stop()
        down_since = time.monotonic()
        second = bss.post(ORDERS, {"serviceOrderItem": [item(1, "add", "hub-b", "r6", "r2")]})
        second_id = second.json()["id"]
        wait_for(
            lambda: bss.get(f"{ORDERS}/{second_id}").json()["state"] == "completed",
            timeout=60,
            what="second order completed while the listener is down",
        )
        api.kill()  # SIGKILL: pending events live only in what the CRs say
        api.start()
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_since)))  # the outage itself
        listener.start()
        wait_for(
            lambda: "completed" in _states(listener, second_id),
            timeout=30,
            what="second order's completed event after the outage",
        )
        assert _in_order(_states(listener, second_id)), _states(listener, second_id)
        assert _in_order(_states(listener, first_id)), _states(listener, first_id)
    finally:
        listener.stop()
