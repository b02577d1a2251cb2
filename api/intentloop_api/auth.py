"""Who is asking: Kubernetes authenticates, there is no second user database.

A bearer token is checked with a TokenReview made by the component itself (a client
certificate, when the component serves TLS, is verified against the cluster's client CA
by the TLS layer); the identity
it returns (user, groups) is then *impersonated* on every call made for the request, so the
API server's RBAC authorises each read and write in its namespace, and its admission
policies see the real user. The token itself is never logged, stored or forwarded.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from intentloop_api import errors
from intentloop_api.kubeclient import Identity, Kube

IDENTITY = web.RequestKey("identity", Identity)
KUBE = web.AppKey("kube", Kube)  # type: ignore[type-abstract]

# Paths anyone may fetch: the probe, the metrics (counts only) and the console's static
# page (its data is fetched through the authenticated API).
PUBLIC = ("/healthz", "/metrics", "/console")


def unauthorised(message: str) -> errors.ApiError:
    return errors.ApiError(401, "Unauthorized", message, code="UNAUTHORIZED")


async def review(kube: Kube, token: str) -> Identity:
    reply = await kube.request(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        },
    )
    status = reply.get("status") or {}
    if not status.get("authenticated"):
        raise unauthorised("Authorization: the bearer token was not accepted by Kubernetes")
    user = status.get("user") or {}
    return Identity(
        username=str(user.get("username", "")),
        groups=tuple(str(g) for g in user.get("groups") or ()),
        uid=str(user.get("uid", "")),
    )


def certificate(request: web.Request) -> Identity | None:
    """A client certificate the TLS layer verified against the cluster's client CA: as the
    API server reads one, the common name is the user and each organisation a group."""
    if request.transport is None:
        return None
    peer = request.transport.get_extra_info("peercert")
    if not peer:
        return None
    names = [(k, v) for rdn in peer.get("subject", ()) for k, v in rdn]
    user = next((v for k, v in names if k == "commonName"), "")
    if not user:
        return None
    return Identity(username=user, groups=tuple(v for k, v in names if k == "organizationName"))


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorised("Authorization: a bearer token (a Kubernetes token) is required")
    return token.strip()


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path in PUBLIC or request.path.startswith("/console/"):  # static files only
        response: web.StreamResponse = await handler(request)
        return response
    if "Authorization" not in request.headers and (who := certificate(request)) is not None:
        request[IDENTITY] = who
    else:
        request[IDENTITY] = await review(request.app[KUBE], bearer(request))
    response = await handler(request)
    return response


def identity(request: web.Request) -> Identity:
    return request[IDENTITY]


async def can(kube: Kube, who: Identity, verb: str, plural: str, namespace: str = "") -> bool:
    """SubjectAccessReview: may `who` do `verb` on intentloop.io `plural` in `namespace`
    ("" = every namespace)? Used where the component acts with its own rights (hub
    registrations) rather than as the user."""
    attributes = {"verb": verb, "group": "intentloop.io", "resource": plural}
    if namespace:
        attributes["namespace"] = namespace
    reply = await kube.request(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": who.username,
                "groups": list(who.groups),
                "uid": who.uid,
                "resourceAttributes": attributes,
            },
        },
    )
    return bool((reply.get("status") or {}).get("allowed"))
