"""TMF list conventions: `fields`, `offset`, `limit`, attribute filters, and the
`X-Total-Count` / `X-Result-Count` headers, applied to any list of TMF objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from intentloop_api import errors

RESERVED = frozenset({"fields", "offset", "limit", "sort"})
ALWAYS = ("id", "href", "@type")
MAX_LIMIT = 1000


def _number(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise errors.bad_field(key, f"must be a non-negative integer, not {raw!r}") from e
    if value < 0:
        raise errors.bad_field(key, f"must be a non-negative integer, not {raw!r}")
    return value


def _lookup(item: Any, dotted: str) -> list[Any]:
    """Every value at `dotted` (lists are searched element by element)."""
    values = [item]
    for key in dotted.split("."):
        found: list[Any] = []
        for v in values:
            for element in v if isinstance(v, list) else [v]:
                if isinstance(element, dict) and key in element:
                    found.append(element[key])
        values = found
    return [x for v in values for x in (v if isinstance(v, list) else [v])]


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(item: dict[str, Any], filters: Mapping[str, Sequence[str]]) -> bool:
    """`state=active` (or `state=active,cleared`: any of) on any attribute, dotted for nested."""
    for key, wanted in filters.items():
        accepted = {w for raw in wanted for w in raw.split(",")}
        if not {text(v) for v in _lookup(item, key)} & accepted:
            return False
    return True


def select(item: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return item
    keep = {f.strip() for f in fields.split(",") if f.strip()} | set(ALWAYS)
    return {k: v for k, v in item.items() if k in keep}


def respond(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """The page of `items` the request asks for, with the spec's count headers."""
    query = request.query
    filters: dict[str, list[str]] = {}
    for key, value in query.items():
        if key not in RESERVED:
            filters.setdefault(key, []).append(value)
    selected = [i for i in items if matches(i, filters)]
    offset = _number(query, "offset", 0)
    limit = min(_number(query, "limit", MAX_LIMIT), MAX_LIMIT)
    page = [select(i, query.get("fields")) for i in selected[offset : offset + limit]]
    headers = {"X-Total-Count": str(len(selected)), "X-Result-Count": str(len(page))}
    return web.json_response(page, headers=headers)
