"""The deployment manifests are accepted by a real API server, and tenants are isolated by
real RBAC: each tenant is a user with its own client certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, Cluster

SERVICE = """
apiVersion: intentloop.io/v1alpha1
kind: NetworkService
metadata: {{name: {name}, namespace: {ns}}}
spec:
  endpoints: [{{device: r1, interface: eth1}}, {{device: r4, interface: eth1}}]
  bandwidthMbps: 10
"""


@pytest.mark.e2e
def test_manifests_apply_with_server_side_dry_run(cluster: Cluster) -> None:
    # A dry run cannot create the namespace its other objects go into; create it for real.
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "namespace.yaml"))
    out = cluster.kubectl("apply", "-k", str(REPO / "manifests"), "--dry-run=server")
    assert "deployment.apps/intentloop-operator" in out.stdout
    assert "clusterrole.rbac.authorization.k8s.io/intentloop-tenant" in out.stdout


def _as(cluster: Cluster, kubeconfig: Path, *args: str, input: str | None = None) -> Any:
    """kubectl as a tenant: only that user's kubeconfig, never the admin's."""
    return subprocess.run(
        [cluster.kubectl_bin, "--kubeconfig", str(kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def tenants(cluster: Cluster, unique: Any) -> Any:
    if cluster.control_plane is None:
        pytest.skip("per-user certificates need the local control plane")
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "user-roles.yaml"))
    made = {}
    for t in ("a", "b"):
        ns = unique(f"tenant-{t}")
        user = f"alice-{ns}" if t == "a" else f"bob-{ns}"
        cluster.kubectl("create", "namespace", ns)
        cluster.kubectl(
            "create",
            "rolebinding",
            "tenant",
            "--clusterrole=intentloop-tenant",
            f"--user={user}",
            "-n",
            ns,
        )
        made[t] = (ns, cluster.control_plane.user_kubeconfig(user))
    yield made
    for ns, _ in made.values():
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.e2e
def test_a_tenant_manages_its_own_intents_and_nothing_else(cluster: Cluster, tenants: Any) -> None:
    (ns_a, kc_a), (ns_b, kc_b) = tenants["a"], tenants["b"]
    ok = _as(cluster, kc_a, "apply", "-f", "-", input=SERVICE.format(name="mine", ns=ns_a))
    assert ok.returncode == 0, ok.stderr
    assert _as(cluster, kc_a, "get", "nsvc", "-n", ns_a).returncode == 0
    theirs = _as(cluster, kc_b, "apply", "-f", "-", input=SERVICE.format(name="theirs", ns=ns_b))
    assert theirs.returncode == 0, theirs.stderr

    denied = [
        ("get", "nsvc", "-n", ns_b),
        ("get", "nsvc", "theirs", "-n", ns_b),
        ("delete", "nsvc", "theirs", "-n", ns_b),
        ("get", "nsvc", "-A"),
        ("get", "devices"),
        ("get", "links"),
        ("get", "resourcepools"),
        ("get", "deviceconfigs"),
        ("get", "secrets", "-n", ns_a),
        ("get", "secrets", "-n", "intentloop-system"),
        (
            "patch",
            "nsvc",
            "mine",
            "-n",
            ns_a,
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"phase":"Ready"}}',
        ),
    ]
    for args in denied:
        result = _as(cluster, kc_a, *args)
        assert result.returncode != 0, f"tenant A could: kubectl {' '.join(args)}"
        assert "forbidden" in result.stderr.lower(), result.stderr
    # Tenant B's object is untouched.
    assert _as(cluster, kc_b, "get", "nsvc", "theirs", "-n", ns_b).returncode == 0
