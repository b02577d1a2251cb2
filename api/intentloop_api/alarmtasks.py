"""TMF642 routes: alarms listed and read as the caller, and the task resources that change
them (ackAlarms, unAckAlarms, clearAlarms, commentAlarms), each applied alarm by alarm as
the caller: RBAC decides which alarms a caller may touch, and the user recorded is the
authenticated one — a task's `ackUserId` / `clearUserId` / `comment.userId` is not trusted."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from intentloop_api import alarmviews, auth, errors, paging, scope
from intentloop_api.kubeclient import MERGE_PATCH, Identity, path

BASE = alarmviews.BASE
Patcher = Callable[[dict[str, Any], Identity, dict[str, Any]], dict[str, Any] | None]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def list_alarms(request: web.Request) -> web.Response:
    objs = await scope.list_objects(request.app[auth.KUBE], auth.identity(request), "alarms")
    views = [alarmviews.alarm(o) for o in objs]
    # Root causes first, then by severity: what a NOC works on first.
    views.sort(key=lambda a: (not a["isRootCause"], a["state"] == "cleared"))
    return paging.respond(request, views)


async def get_alarm(request: web.Request) -> web.Response:
    """By its number (TMF642's integer id) or, for people, by `<namespace>.<name>`."""
    kube, who, ident = request.app[auth.KUBE], auth.identity(request), request.match_info["id"]
    if not ident.isdigit():
        obj = await scope.get_object(kube, who, "alarms", ident)
    else:
        found = [o for o in await scope.list_objects(kube, who, "alarms") if _number(o) == ident]
        if not found:
            raise errors.not_found(f"alarm {ident}")
        obj = found[0]
    return web.json_response(paging.select(alarmviews.alarm(obj), request.query.get("fields")))


def _number(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return str(alarmviews.number(meta["namespace"], meta["name"]))


def _matching(views: list[dict[str, Any]], patterns: Any) -> list[dict[str, Any]]:
    if not isinstance(patterns, list) or not patterns:
        raise errors.bad_field(
            "alarmPattern",
            "at least one pattern (an Alarm with the "
            'attributes to match, e.g. {"id": ...}) is required',
        )
    chosen = []
    for view in views:
        for pattern in patterns:
            if not isinstance(pattern, dict):
                raise errors.bad_field("alarmPattern", "each pattern is an object")
            wanted = {
                k: [paging.text(v)] for k, v in pattern.items() if not isinstance(v, dict | list)
            }
            if paging.matches(view, wanted):
                chosen.append(view)
                break
    return chosen


def _ack(_: dict[str, Any], who: Identity, body: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"acknowledged": True, "acknowledgedBy": who.username}}


def _unack(_: dict[str, Any], who: Identity, body: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"acknowledged": False, "acknowledgedBy": ""}}


def _clear(_: dict[str, Any], who: Identity, body: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"clearedBy": who.username, "clearedTime": _now()}}


def _comment(obj: dict[str, Any], who: Identity, body: dict[str, Any]) -> dict[str, Any]:
    text = str((body.get("comment") or {}).get("comment", ""))[:1024]
    comments = list((obj.get("spec") or {}).get("comments") or [])
    comments.append({"comment": text, "userId": who.username, "time": _now()})
    return {"spec": {"comments": comments[-100:]}}


TASKS: dict[str, tuple[Patcher, str, str]] = {
    "ackAlarms": (_ack, "ackedAlarm", "AckAlarms"),
    "unAckAlarms": (_unack, "unAckedAlarm", "UnAckAlarms"),
    "clearAlarms": (_clear, "clearedAlarm", "ClearAlarms"),
    "commentAlarms": (_comment, "commentedAlarm", "CommentAlarms"),
}


def _validate(task: str, body: dict[str, Any]) -> None:
    if task == "commentAlarms":
        comment = body.get("comment")
        if not isinstance(comment, dict) or not str(comment.get("comment", "")).strip():
            raise errors.bad_field("comment.comment", "the text of the comment is required")


def _task(task: str) -> Any:
    patcher, done_key, kind = TASKS[task]

    async def handler(request: web.Request) -> web.Response:
        kube, who = request.app[auth.KUBE], auth.identity(request)
        body = await errors.read_json(request)
        _validate(task, body)
        objs = await scope.list_objects(kube, who, "alarms")
        by_id = {
            alarmviews.number(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs
        }
        chosen = _matching([alarmviews.alarm(o) for o in objs], body.get("alarmPattern"))
        done = []
        for view in chosen:
            obj = by_id[view["id"]]
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            patch = patcher(obj, who, body)
            written = await kube.request(
                "PATCH",
                path("alarms", namespace=ns, name=name),
                body=patch,
                as_user=who,
                content_type=MERGE_PATCH,
            )
            done.append(alarmviews.alarm(written))
        ident = uuid.uuid4().hex
        reply = {
            "id": ident,
            "href": f"{BASE}/{task}/{ident}",
            "state": "done",
            "alarmPattern": body.get("alarmPattern"),
            done_key: done,
            "@type": kind,
        }
        reply.update(_task_fields(task, who, body))
        return web.json_response(reply, status=201)

    return handler


def _task_fields(task: str, who: Identity, body: dict[str, Any]) -> dict[str, Any]:
    if task in {"ackAlarms", "unAckAlarms"}:
        return {"ackUserId": who.username, "ackSystemId": "intentloop", "ackTime": _now()}
    if task == "clearAlarms":
        return {
            "clearUserId": who.username,
            "clearSystemId": "intentloop",
            "alarmClearedTime": _now(),
        }
    comment = dict(body.get("comment") or {})
    return {"comment": {**comment, "userId": who.username, "systemId": "intentloop"}}


def routes() -> list[web.RouteDef]:
    out = [web.get(f"{BASE}/alarm", list_alarms), web.get(f"{BASE}/alarm/{{id}}", get_alarm)]
    out += [web.post(f"{BASE}/{task}", _task(task)) for task in TASKS]
    return out
