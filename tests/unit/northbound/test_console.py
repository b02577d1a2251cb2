"""The console: its page is public, everything it shows is read as the signed-in user."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.unit.northbound.conftest import TENANT


async def test_the_page_is_served_to_anyone_and_its_data_to_the_authenticated(
    client: TestClient[Any, Any],
) -> None:
    page = await client.get("/console/")
    assert page.status == 200 and "console.js" in await page.text()
    assert (await client.get("/console/console.js")).status == 200
    assert (await client.get("/console/app.py")).status == 404  # only the three files
    assert (await client.get("/console-api/whoami")).status == 401


async def test_the_noc_and_a_tenant_get_their_own_views(client: TestClient[Any, Any]) -> None:
    noc = await client.get("/console-api/whoami", headers={"Authorization": "Bearer noc-token"})
    assert (await noc.json())["noc"] is True
    tenant = await client.get(
        "/console-api/whoami", headers={"Authorization": "Bearer tenant-token"}
    )
    assert await tenant.json() == {
        "user": f"system:serviceaccount:{TENANT}:bss",
        "noc": False,
        "namespace": TENANT,
    }
    picture = await client.get(
        "/console-api/topology.svg", headers={"Authorization": "Bearer tenant-token"}
    )
    assert picture.status == 403
    picture = await client.get(
        "/console-api/topology.svg", headers={"Authorization": "Bearer noc-token"}
    )
    assert picture.status == 200 and (await picture.text()).lstrip().startswith("<")


async def test_metrics_count_requests_by_api_without_naming_anyone(
    client: TestClient[Any, Any],
) -> None:
    await client.get(
        "/tmf-api/serviceInventory/v4/service", headers={"Authorization": "Bearer tenant-token"}
    )
    text = await (await client.get("/metrics")).text()
    assert 'intentloop_api_request_seconds_count{api="serviceInventory",method="GET",' in text
    assert TENANT not in text and "bss" not in text


def test_a_tenants_stream_hears_of_its_own_namespace_only() -> None:
    from intentloop_api.consoleapi import Stream

    tenant, noc = Stream(TENANT), Stream(None)
    for stream in (tenant, noc):
        stream.offer("alarms", TENANT)
        stream.offer("alarms", "tenant-b")
        stream.offer("links", None)
    assert tenant.queue.qsize() == 1 and noc.queue.qsize() == 3
