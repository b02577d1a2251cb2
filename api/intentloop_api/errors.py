"""TMF errors: every refusal is an `Error` {code, reason, message, status} naming the field.

Handlers raise `ApiError`; one middleware turns it (and a Kubernetes refusal) into the
spec's shape, so no handler formats an error body itself.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from intentloop_api.kubeclient import KubeError


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.code = code or str(status)

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "reason": self.reason,
            "message": self.message,
            "status": str(self.status),
            "@type": "Error",
        }

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status)


def bad_field(field: str, problem: str) -> ApiError:
    return ApiError(400, "Invalid field", f"{field}: {problem}", code="INVALID_FIELD")


def not_found(what: str) -> ApiError:
    return ApiError(404, "Not found", f"{what} not found", code="NOT_FOUND")


_REASONS = {
    400: ("Bad request", "BAD_REQUEST"),
    401: ("Unauthorized", "UNAUTHORIZED"),
    403: ("Forbidden", "FORBIDDEN"),
    404: ("Not found", "NOT_FOUND"),
    409: ("Conflict", "CONFLICT"),
    422: ("Invalid field", "INVALID_FIELD"),
}


def from_kube(error: KubeError, *, field_prefix: str = "") -> ApiError:
    """A Kubernetes refusal in TMF terms: the causes' fields named, prefixed by where in the
    TMF request they came from (e.g. `serviceOrderItem[1].service.serviceCharacteristic`)."""
    status = error.status if error.status in _REASONS else 502
    reason, code = _REASONS.get(status, ("Kubernetes API error", "UPSTREAM"))
    causes = [
        f"{field_prefix}{c.get('field', '')}: {c.get('message', '')}".strip(": ")
        for c in error.causes
    ]
    message = "; ".join(causes) if causes else error.message
    return ApiError(400 if status == 422 else status, reason, message, code=code)


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except ValueError as e:
        raise ApiError(400, "Bad request", f"body: not JSON ({e})", code="BAD_REQUEST") from e
    if not isinstance(body, dict):
        raise bad_field("body", "must be a JSON object")
    return body


@web.middleware
async def tmf_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as e:
        return e.response()
    except KubeError as e:
        return from_kube(e).response()
    except web.HTTPNotFound:
        return ApiError(404, "Not found", f"{request.path}: no such resource").response()
    except web.HTTPMethodNotAllowed:
        return ApiError(405, "Method not allowed", f"{request.method} {request.path}").response()
