"""Validate TMF Open API requests and responses with openapi-core against the TM Forum
v4 specifications.

The specifications are not in this repository: they are read from `../shared/tmf` beside
the checkout (or a parent's), or from `$INTENTLOOP_TMF_SPECS`; tests skip without them.
They are Swagger 2.0, which openapi-core does not read: `openapi3()` converts one to the
equivalent OpenAPI 3.0 document (schemas, body parameters, responses) in memory.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = {
    "serviceOrdering": (
        "TMF641_Service_Ordering/swaggers/TMF641-ServiceOrdering-v4.1.0.swagger.json"
    ),
    "serviceInventory": (
        "TMF638_Service_Inventory/swaggers/TMF638-ServiceInventory-v4.0.0.swagger.json"
    ),
    "resourceInventory": (
        "TMF639_Resource_Inventory/swaggers/TMF639-ResourceInventory-v4.0.0.swagger.json"
    ),
    "alarm": "TMF642_Alarm/swaggers/TMF642-Alarm-v4.0.0.swagger.json",
    "troubleTicket": "TMF621_Trouble_Ticket/swaggers/TMF621-TroubleTicket-v4.0.0.swagger.json",
}


@cache
def specs_dir() -> Path | None:
    override = os.environ.get("INTENTLOOP_TMF_SPECS")
    candidates = [Path(override)] if override else []
    candidates += [p / "shared" / "tmf" for p in (ROOT.parent, ROOT.parent.parent)]
    return next((p for p in candidates if (p / SPECS["alarm"]).is_file()), None)


def _refs(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            out["$ref"] = "#/components/schemas/" + ref.removeprefix("#/definitions/")
        return out
    if isinstance(node, list):
        return [_refs(v) for v in node]
    return node


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: v for k, v in op.items() if k not in {"parameters", "responses", "consumes", "produces"}
    }
    params = []
    for p in op.get("parameters", []):
        if p["in"] == "body":
            out["requestBody"] = {
                "required": bool(p.get("required")),
                "content": {"application/json": {"schema": p["schema"]}},
            }
        else:
            schema = {k: p[k] for k in ("type", "format", "items", "enum") if k in p}
            params.append(
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": bool(p.get("required")),
                    "schema": schema,
                }
            )
    if params:
        out["parameters"] = params
    out["responses"] = {}
    for code, r in op.get("responses", {}).items():
        converted: dict[str, Any] = {"description": r.get("description", "")}
        if "schema" in r:
            converted["content"] = {"application/json": {"schema": r["schema"]}}
        if "headers" in r:
            converted["headers"] = {
                h: {"schema": {"type": v.get("type", "string")}} for h, v in r["headers"].items()
            }
        out["responses"][code] = converted
    return out


def openapi3(swagger: dict[str, Any]) -> dict[str, Any]:
    paths = {
        swagger["basePath"].rstrip("/") + p: {m: _operation(op) for m, op in item.items()}
        for p, item in swagger["paths"].items()
    }
    return _refs(
        {
            "openapi": "3.0.3",
            "info": swagger["info"],
            "servers": [{"url": "http://localhost"}],
            "paths": paths,
            "components": {"schemas": swagger.get("definitions", {})},
        }
    )


@cache
def spec(api: str) -> Any:
    from openapi_core import OpenAPI

    where = specs_dir()
    if where is None:
        pytest.skip("the TM Forum specifications (../shared/tmf) are not here")
    swagger = json.loads((where / SPECS[api]).read_text())
    return OpenAPI.from_dict(openapi3(swagger))


def api_of(path: str) -> str:
    for api, prefix in (
        ("serviceOrdering", "/tmf-api/serviceOrdering/"),
        ("serviceInventory", "/tmf-api/serviceInventory/"),
        ("resourceInventory", "/tmf-api/resourceInventoryManagement/"),
        ("alarm", "/tmf-api/alarmManagement/"),
        ("troubleTicket", "/tmf-api/troubleTicket/"),
    ):
        if path.startswith(prefix):
            return api
    raise KeyError(path)


def validate(
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    status: int,
    headers: dict[str, str],
    reply: Any,
    *,
    check_response: bool = True,
) -> None:
    """Raise (openapi-core's errors) unless request and response conform to the spec."""
    import requests
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    request = requests.Request(method, "http://localhost" + path, params=query, json=body).prepare()
    response = requests.Response()
    response.status_code = status
    response.headers.update({"Content-Type": "application/json", **headers})
    response._content = b"" if reply is None else json.dumps(reply).encode()
    openapi = spec(api_of(path))
    wrapped = RequestsOpenAPIRequest(request)
    openapi.validate_request(wrapped)
    if check_response:
        openapi.validate_response(wrapped, RequestsOpenAPIResponse(response))
