"""Fixtures of the northbound e2e tests: the api component (one per test module), the
example pools, a tenant's BSS and a NOC user, each made as Kubernetes identities."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, lab_ports
from tests.e2e.northbound import Api, Caller, noc, running_api, tenant_bss


@pytest.fixture(scope="module")
def api(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from running_api(cluster, tmp_path_factory)


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


@pytest.fixture
def bss(cluster: Cluster, lab: Lab, api: Api, namespace: str, assign_ports: AssignPorts) -> Caller:
    assign_ports(namespace, lab_ports(lab))
    return tenant_bss(cluster, api, namespace)


@pytest.fixture
def the_noc(cluster: Cluster, api: Api) -> Iterator[Caller]:
    ns = f"noc-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", ns)
    yield noc(cluster, api, ns)
    cluster.kubectl("delete", "clusterrolebinding", f"noc-{ns}", check=False)
    cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
