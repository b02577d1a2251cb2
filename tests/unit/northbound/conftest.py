"""Handler tests: the northbound application against the in-memory API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from intentloop_api import app as api_app
from intentloop_api.kubeclient import Identity
from tests.unit.northbound.fakekube import NOC_GROUP, FakeKube

TENANT = "tenant-a"
OTHER = "tenant-b"
TOKENS = {
    "tenant-token": Identity(f"system:serviceaccount:{TENANT}:bss", ("system:serviceaccounts",)),
    "other-token": Identity(f"system:serviceaccount:{OTHER}:bss", ("system:serviceaccounts",)),
    "noc-token": Identity("nora", (NOC_GROUP,)),
}


def obj(kind: str, name: str, ns: str | None, spec: dict[str, Any], status: Any = None) -> Any:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    out = {"apiVersion": "intentloop.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}
    if status is not None:
        out["status"] = status
    return out


ENDS = [{"device": "r1", "interface": "eth2"}, {"device": "r2", "interface": "eth2"}]


def seed(kube: FakeKube) -> None:
    web = kube.add(
        "networkservices",
        obj(
            "NetworkService",
            "web",
            TENANT,
            {"type": "l2-p2p", "endpoints": ENDS, "bandwidthMbps": 10, "sla": {"maxLatencyMs": 5}},
            {
                "phase": "Ready",
                "path": ["r1", "r2"],
                "pathLinks": ["r1-r2"],
                "allocated": {"vlan": 120},
                "slaMet": True,
                "measuredLatencyMs": 0.4,
            },
        ),
    )
    kube.add(
        "networkservices",
        obj(
            "NetworkService",
            "theirs",
            OTHER,
            {"type": "l2-p2p", "endpoints": ENDS, "bandwidthMbps": 10},
            {"phase": "Failed"},
        ),
    )
    web["metadata"]["labels"] = {"intentloop.io/service-order": "order-1"}
    web["metadata"]["annotations"] = {"intentloop.io/service-order-item": "1"}
    kube.add(
        "networkslices",
        obj(
            "NetworkSlice",
            "gold",
            TENANT,
            {"endpoints": ENDS, "guaranteedBandwidthMbps": 50},
            {"phase": "Admitted"},
        ),
    )
    kube.add(
        "devices",
        obj(
            "Device",
            "r1",
            None,
            {"address": "127.0.0.1", "role": "edge"},
            {"reachable": True, "softwareVersion": "1.0"},
        ),
    )
    kube.add(
        "links",
        obj(
            "Link",
            "r1-r2",
            None,
            {"a": ENDS[0], "b": ENDS[1], "capacityMbps": 100},
            {"operState": "down"},
        ),
    )
    root = {"kind": "Alarm", "name": "link-r1-r2-linkdown", "namespace": "intentloop-system"}
    kube.add(
        "alarms",
        obj(
            "Alarm",
            "link-r1-r2-linkdown",
            "intentloop-system",
            {},
            {
                "alarmType": "communicationsAlarm",
                "perceivedSeverity": "major",
                "probableCause": "linkDown",
                "state": "active",
                "isRootCause": True,
                "source": {"kind": "Link", "name": "r1-r2"},
                "raisedTime": "2026-12-06T01:00:00Z",
                "affectedServices": [
                    {"kind": "NetworkService", "name": "web", "namespace": TENANT}
                ],
                "correlatedAlarms": [
                    {"kind": "Alarm", "name": "service-web-impacted", "namespace": TENANT}
                ],
            },
        ),
    )
    kube.add(
        "alarms",
        obj(
            "Alarm",
            "service-web-impacted",
            TENANT,
            {},
            {
                "alarmType": "qualityOfServiceAlarm",
                "perceivedSeverity": "major",
                "probableCause": "serviceImpacted",
                "state": "active",
                "isRootCause": False,
                "source": {"kind": "NetworkService", "name": "web", "namespace": TENANT},
                "rootCauseRef": root,
                "raisedTime": "2026-12-06T01:00:01Z",
                "affectedServices": [{"kind": "NetworkService", "name": "web"}],
            },
        ),
    )
    kube.add(
        "troubletickets",
        obj(
            "TroubleTicket",
            "rc-link-r1-r2-linkdown",
            TENANT,
            {
                "description": "linkDown on Link r1-r2: affects web",
                "severity": "major",
                "rootCauseAlarm": root,
                "requestedBy": "intentloop",
                "relatedServices": [{"kind": "NetworkService", "name": "web", "namespace": TENANT}],
            },
            {"state": "inProgress", "statusChangeDate": "2026-12-06T01:00:02Z"},
        ),
    )


@pytest.fixture
def kube() -> FakeKube:
    fake = FakeKube(tokens=dict(TOKENS))
    seed(fake)
    return fake


@pytest.fixture
async def client(kube: FakeKube) -> AsyncIterator[TestClient[Any, Any]]:
    test_client: TestClient[Any, Any] = TestClient(
        TestServer(api_app.build(kube, controllers=False))
    )
    await test_client.start_server()
    yield test_client
    await test_client.close()
