"""An in-memory stand-in for the API server, enough for the northbound handlers: objects
by path, merge patches, generateName, dry runs, TokenReview, SubjectAccessReview, and RBAC
on impersonated callers (a tenant in its namespace; the NOC reads everywhere)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from intentloop_api.kubeclient import Identity, KubeError

NOC_GROUP = "noc"
READ = frozenset({"GET"})


def merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            merge(target[k], v)
        else:
            target[k] = copy.deepcopy(v)
    return target


@dataclass
class FakeKube:
    tokens: dict[str, Identity] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → object
    calls: list[tuple[str, str, Identity | None]] = field(default_factory=list)
    _rv: Any = field(default_factory=lambda: itertools.count(100))

    def add(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        meta.setdefault("resourceVersion", str(next(self._rv)))
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2026-12-06T01:00:00Z")
        self.objects[self._path(plural, meta.get("namespace"), meta["name"])] = obj
        return obj

    @staticmethod
    def _path(plural: str, ns: str | None, name: str) -> str:
        where = f"/namespaces/{ns}" if ns else ""
        return f"/apis/intentloop.io/v1alpha1{where}/{plural}/{name}"

    def _allowed(self, who: Identity | None, method: str, ns: str | None) -> bool:
        if who is None:
            return True
        if NOC_GROUP in who.groups:
            return method in READ or method == "PATCH"
        own = who.service_account_namespace
        return ns is not None and ns == own

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        as_user: Identity | None = None,
        params: dict[str, str] | None = None,
        content_type: str = "",
    ) -> dict[str, Any]:
        self.calls.append((method, path, as_user))
        if path.endswith("/tokenreviews"):
            who = self.tokens.get(body["spec"]["token"])
            if who is None:
                return {"status": {"authenticated": False}}
            return {
                "status": {
                    "authenticated": True,
                    "user": {"username": who.username, "groups": list(who.groups), "uid": who.uid},
                }
            }
        if path.endswith("/subjectaccessreviews"):
            spec = body["spec"]
            who = Identity(spec["user"], tuple(spec["groups"]))
            ns = spec["resourceAttributes"].get("namespace")
            return {
                "status": {
                    "allowed": self._allowed(who, "GET", ns)
                    if ns or NOC_GROUP in who.groups
                    else False
                }
            }
        parts = path.split("/")
        ns = parts[parts.index("namespaces") + 1] if "namespaces" in parts else None
        if not self._allowed(as_user, method, ns):
            raise KubeError(403, {"reason": "Forbidden", "message": f"{method} {path}: forbidden"})
        dry = (params or {}).get("dryRun") == "All"
        return self._crud(method, path, body, dry)

    def _crud(self, method: str, path: str, body: Any, dry: bool) -> dict[str, Any]:
        status_sub = path.endswith("/status")
        key = path.removesuffix("/status")
        if method == "GET":
            if key in self.objects:
                return copy.deepcopy(self.objects[key])
            items = [
                copy.deepcopy(o)
                for p, o in self.objects.items()
                if p.rsplit("/", 1)[0] == key or self._listed(p, key)
            ]
            if items or key.rsplit("/", 1)[-1].endswith("s"):
                return {"items": items, "metadata": {"resourceVersion": "1"}}
        if method == "POST":
            return self._create(key, body, dry)
        existing = self.objects.get(key)
        if existing is None:
            raise KubeError(404, {"reason": "NotFound", "message": f"{key} not found"})
        if method == "DELETE":
            if not dry:
                del self.objects[key]
            return {}
        new = copy.deepcopy(existing)
        if method == "PUT":
            new = copy.deepcopy(body)
        else:
            merge(new, body if not status_sub else {"status": body["status"]})
        if not dry:
            new["metadata"]["resourceVersion"] = str(next(self._rv))
            self.objects[key] = new
        return copy.deepcopy(new)

    @staticmethod
    def _listed(path: str, key: str) -> bool:
        """A cluster-wide list (`/apis/g/v/plural`) holds every namespace's objects."""
        prefix, _, plural = key.rpartition("/")
        parts = path.split("/")
        return (
            "namespaces" in parts
            and path.startswith(prefix + "/namespaces/")
            and (parts[-2] == plural and "/namespaces/" not in key)
        )

    def _create(self, key: str, body: dict[str, Any], dry: bool) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        if "generateName" in meta:
            meta["name"] = meta.pop("generateName") + f"{next(self._rv):05d}"
        path = f"{key}/{meta['name']}"
        if path in self.objects:
            raise KubeError(409, {"reason": "AlreadyExists", "message": f"{path} exists"})
        if dry:
            return obj
        plural = key.rsplit("/", 1)[-1]
        return copy.deepcopy(self.add(plural, obj))

    async def watch(self, path: str, *, resource_version: str) -> AsyncIterator[dict[str, Any]]:
        if False:  # pragma: no cover - no watches in handler tests
            yield {}
