"""Where a request reads and writes: every call is made as the user, so the API server
decides. A cluster-wide reader (the NOC) lists every namespace; a tenant's BSS (a
ServiceAccount in the tenant's namespace) is refused that and reads its own namespace."""

from __future__ import annotations

from typing import Any

from intentloop_api import errors
from intentloop_api.kubeclient import GROUP, VERSION, Identity, Kube, KubeError, path

SEPARATOR = "."  # namespaces are DNS labels (no dots): "<namespace>.<name>" splits at the first


def tmf_id(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}{SEPARATOR}{meta['name']}" if ns else str(meta["name"])


def split_id(tmf: str, *, namespaced: bool = True) -> tuple[str | None, str]:
    if not namespaced:
        return None, tmf
    ns, sep, name = tmf.partition(SEPARATOR)
    if not sep or not ns or not name:
        raise errors.not_found(f"id {tmf!r} (ids are <namespace>.<name>)")
    return ns, name


def home_namespace(who: Identity, asked: str | None = None) -> str:
    """The orderer's namespace: the one asked for, else a ServiceAccount's own."""
    ns = asked or who.service_account_namespace
    if not ns:
        raise errors.bad_field(
            "relatedParty",
            "name the namespace to order in: a relatedParty with role 'customer' and the "
            "namespace as id (a ServiceAccount orders in its own namespace by default)",
        )
    return ns


HINT = "relatedParty.id"


async def list_objects(
    kube: Kube,
    who: Identity,
    plural: str,
    *,
    namespaced: bool = True,
    group: str = GROUP,
    namespace: str | None = None,
) -> list[dict[str, Any]]:
    """Everything the caller may list: every namespace, or else its own — a
    ServiceAccount's, or the one it names with the filter `relatedParty.id=<namespace>`."""
    version = VERSION if group == GROUP else "v1"
    try:
        reply = await kube.request("GET", path(plural, group=group, version=version), as_user=who)
    except KubeError as e:
        own = namespace or who.service_account_namespace
        if e.status != 403 or not namespaced or own is None:
            raise
        reply = await kube.request(
            "GET", path(plural, namespace=own, group=group, version=version), as_user=who
        )
    items: list[dict[str, Any]] = reply.get("items", [])
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    return items


async def get_object(
    kube: Kube, who: Identity, plural: str, tmf: str, *, namespaced: bool = True
) -> dict[str, Any]:
    ns, name = split_id(tmf, namespaced=namespaced)
    try:
        return await kube.request("GET", path(plural, namespace=ns, name=name), as_user=who)
    except KubeError as e:
        if e.status == 404:
            raise errors.not_found(f"{plural[:-1]} {tmf}") from e
        raise
