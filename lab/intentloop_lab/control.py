"""The lab daemon's control API: one JSON object per line over a UNIX socket.

A request names an operation (`op`) and its arguments; the reply is `{"ok": true,
"result": ...}` or `{"ok": false, "error": "..."}` with a message a person can act on. A
UNIX socket in the state directory (0600) means only the lab's owner can fail its links.
Requests are validated with pydantic at the boundary, so a typo is refused, not half-run.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from intentloop_lab.topology import RouterName

log = structlog.get_logger("intentloop_lab.daemon")

MAX_LINE = 64 * 1024


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(_Request):
    op: Literal["status"] = "status"


class LinkAdmin(_Request):
    op: Literal["link-admin"] = "link-admin"
    a: RouterName
    b: RouterName
    up: bool


class LinkLatency(_Request):
    """Add `extra_ms` to the link's nominal latency, both directions; 0 removes it."""

    op: Literal["link-latency"] = "link-latency"
    a: RouterName
    b: RouterName
    extra_ms: float = Field(ge=0, le=60_000)


class DeviceAction(_Request):
    op: Literal["device"] = "device"
    action: Literal["stop", "start", "tamper", "reject"]
    router: RouterName


class CommitCheck(_Request):
    """A NETCONF router's relay, before forwarding a `<commit>`: apply the candidate in this
    file (inside the router's own directory) to the router's kernel, and keep it for
    `hold_s` while running catches up; a refusal fails the commit. No file: the commit was
    cancelled, go back to running."""

    op: Literal["commit-check"] = "commit-check"
    router: RouterName
    config: str | None = Field(default=None, max_length=4096)
    hold_s: float = Field(default=0.0, ge=0, le=86_400)


AnyRequest = Status | LinkAdmin | LinkLatency | DeviceAction | CommitCheck
REQUEST: TypeAdapter[AnyRequest] = TypeAdapter(Annotated[AnyRequest, Field(discriminator="op")])


class ControlError(RuntimeError):
    """The daemon refused a request, or could not be reached."""


def parse_request(line: bytes) -> AnyRequest:
    return REQUEST.validate_json(line)


def encode_reply(*, ok: bool, result: Any = None, error: str = "") -> bytes:
    body: dict[str, Any] = {"ok": ok}
    if ok:
        body["result"] = result
    else:
        body["error"] = error
    return json.dumps(body).encode() + b"\n"


async def serve_client(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    dispatch: Callable[[AnyRequest], Awaitable[Any]],
) -> None:
    """The daemon's side of one connection: one request line, one reply line."""
    try:
        line = await reader.readline()
        if line.strip():
            writer.write(await _answer(line, dispatch))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _answer(line: bytes, dispatch: Callable[[AnyRequest], Awaitable[Any]]) -> bytes:
    try:
        request = parse_request(line)
    except ValueError as exc:
        return encode_reply(ok=False, error=f"bad request: {exc}")
    try:
        result = await dispatch(request)
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        log.warning("lab.control.refused", op=request.op, error=str(message))
        return encode_reply(ok=False, error=str(message))
    except Exception as exc:  # a bug of ours: say so instead of hanging up silently
        log.error("lab.control.failed", op=request.op, error=repr(exc))
        return encode_reply(ok=False, error=f"lab daemon error: {exc!r}")
    return encode_reply(ok=True, result=result)


def call(
    socket_path: Path,
    request: AnyRequest,
    *,
    timeout_s: float = 30.0,
) -> Any:
    """Send one request and return the daemon's result; raises ControlError on refusal."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(socket_path))
        except OSError as exc:
            raise ControlError(f"lab daemon not reachable at {socket_path}: {exc}") from exc
        sock.sendall(request.model_dump_json().encode() + b"\n")
        reply = _read_line(sock)
    try:
        body = json.loads(reply)
    except json.JSONDecodeError as exc:
        raise ControlError(f"lab daemon sent an unreadable reply: {exc}") from exc
    if not body.get("ok"):
        raise ControlError(str(body.get("error", "request refused")))
    return body.get("result")


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > 64 * MAX_LINE:
            break
    if not chunks:
        raise ControlError("lab daemon closed the connection without a reply")
    return b"".join(chunks)
