"""Client certificates: `intentloop api` serving TLS accepts a certificate signed by the
cluster's client CA as the identity (CN user, O groups), and RBAC still decides."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPO, Cluster
from tests.e2e.northbound import INFRA, Api, Caller
from tests.e2e.tmf.test_orders import ORDERS, item


@pytest.fixture(scope="module")
def tls_api(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    if cluster.control_plane is None:
        pytest.skip("client certificates need the local control plane's CA")
    pki = cluster.control_plane.pki.path
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "user-roles.yaml"))
    cluster.kubectl("create", "namespace", INFRA, check=False)
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "api-rbac.yaml"))
    # Served with the API server's own certificate (127.0.0.1), clients checked by its CA.
    tls = (
        "--tls-cert-file",
        str(pki("apiserver.crt")),
        "--tls-private-key-file",
        str(pki("apiserver.key")),
        "--client-ca-file",
        str(pki("ca.crt")),
    )
    server = Api(cluster, tmp_path_factory.mktemp("api-tls"), tls, verify=str(pki("ca.crt")))
    yield server
    server.stop()


@pytest.mark.e2e
def test_a_tenant_user_with_a_client_certificate_orders_in_its_namespace_only(
    cluster: Cluster, tls_api: Api, namespace: str
) -> None:
    assert cluster.control_plane is not None
    user = f"carol-{namespace}"
    cluster.kubectl(
        "create",
        "rolebinding",
        "carol",
        "--clusterrole=intentloop-tenant",
        f"--user={user}",
        "-n",
        namespace,
    )
    cluster.control_plane.user_kubeconfig(user)
    pki = cluster.control_plane.pki.path
    carol = Caller(
        tls_api, None, namespace, cert=(str(pki(f"user-{user}.crt")), str(pki(f"user-{user}.key")))
    )
    mine = {
        "id": namespace,
        "role": "customer",
        "@type": "RelatedParty",
        "@referredType": "Namespace",
    }
    order = {"relatedParty": [mine], "serviceOrderItem": [item(1, "add", "by-cert", "r1", "r2")]}
    reply = carol.post(ORDERS, order)
    assert reply.status_code == 201, reply.text
    stored = cluster.custom.get_namespaced_custom_object(
        "intentloop.io", "v1alpha1", namespace, "serviceorders", reply.json()["id"].split(".", 1)[1]
    )
    assert stored["spec"]["requestedBy"] == user
    listed = carol.get(ORDERS, params={"relatedParty.id": namespace})
    assert [o["id"] for o in listed.json()] == [reply.json()["id"]]
    elsewhere = carol.post(ORDERS, {**order, "relatedParty": [{**mine, "id": "default"}]})
    assert elsewhere.status_code == 403
    assert Caller(tls_api, None, None).get(ORDERS).status_code == 401
