"""Two tenants side by side: everything a tenant's user can read (services, slices,
Transactions and dry runs, Alarms, Events) names nothing of the other tenant."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, wait_for
from tests.e2e.test_tenancy import GROUP, VERSION, _ends, _get, _obj, _with_reason


@pytest.fixture(scope="module", autouse=True)
def pools(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))


def _as(cluster: Cluster, kubeconfig: Path, *args: str, input: str | None = None) -> Any:
    return subprocess.run(
        [cluster.kubectl_bin, "--kubeconfig", str(kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def tenants(cluster: Cluster, unique: Any) -> Iterator[dict[str, tuple[str, Path]]]:
    if cluster.control_plane is None:
        pytest.skip("per-user certificates need the local control plane")
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "user-roles.yaml"))
    made = {}
    for t in ("a", "b"):
        ns = unique(f"tenant-{t}")
        user = f"user-{ns}"
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


def _shared_core_port(cluster: Cluster, a: str, b: str) -> bool:
    """Whether some device item (a core port) is owned by both tenants' services."""
    for dc in cluster.custom.list_cluster_custom_object(GROUP, VERSION, "deviceconfigs")["items"]:
        for item in dc["spec"]["config"].get("interfaces", []):
            owners = item.get("owners", [])
            if any(o.startswith(f"{a}/") for o in owners) and any(
                o.startswith(f"{b}/") for o in owners
            ):
                return True
    return False


@pytest.mark.e2e
def test_a_tenant_user_reads_nothing_of_another_tenant(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    tenants: dict[str, tuple[str, Path]],
    assign_ports: AssignPorts,
) -> None:
    (ns_a, kc_a), (ns_b, kc_b) = tenants["a"], tenants["b"]
    assign_ports(ns_a, [("r1", "eth1"), ("r4", "eth1")])
    assign_ports(ns_b, [("r1", "eth2"), ("r4", "eth2")])
    vlan = 700 + uuid.uuid4().int % 250
    # Tenant B, as its own user: a service on the same two devices as A's (so they share the
    # core ports between them), holding a VLAN A will ask for; a slice of its own.
    b_objs = [
        _obj(
            "NetworkService",
            ns_b,
            "bravo-link",
            endpoints=_ends(("r1", "eth2"), ("r4", "eth2")),
            bandwidthMbps=11,
            vlan=vlan,
        ),
        _obj(
            "NetworkSlice",
            ns_b,
            "bravo-slice",
            endpoints=_ends(("r1", "eth2"), ("r4", "eth2")),
            guaranteedBandwidthMbps=13,
        ),
    ]
    done = _as(cluster, kc_b, "apply", "-f", "-", input=yaml.safe_dump_all(b_objs))
    assert done.returncode == 0, done.stderr
    wait_for(
        lambda: _with_reason(
            cluster, "networkservices", ns_b, "bravo-link", "Ready", "Provisioned"
        ),
        timeout=60,
        what="tenant B's service Ready",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    # Tenant A, as its own user: a service next to B's, one asking for B's VLAN, one on B's
    # port, a slice of its own, and a dry run over the shared devices.
    a_objs = [
        _obj(
            "NetworkService",
            ns_a,
            "alpha-link",
            endpoints=_ends(("r1", "eth1"), ("r4", "eth1")),
            bandwidthMbps=11,
        ),
        _obj(
            "NetworkService",
            ns_a,
            "alpha-vlan",
            endpoints=_ends(("r1", "eth1"), ("r4", "eth1")),
            bandwidthMbps=3,
            vlan=vlan,
        ),
        _obj(
            "NetworkService",
            ns_a,
            "alpha-grab",
            endpoints=_ends(("r1", "eth2"), ("r4", "eth1")),
            bandwidthMbps=3,
        ),
        _obj(
            "NetworkSlice",
            ns_a,
            "alpha-slice",
            endpoints=_ends(("r1", "eth1"), ("r4", "eth1")),
            guaranteedBandwidthMbps=13,
        ),
    ]
    done = _as(cluster, kc_a, "apply", "-f", "-", input=yaml.safe_dump_all(a_objs))
    assert done.returncode == 0, done.stderr
    link = wait_for(
        lambda: _with_reason(
            cluster, "networkservices", ns_a, "alpha-link", "Ready", "Provisioned"
        ),
        timeout=60,
        what="tenant A's service Ready",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    # B's VLAN on A's own ports: a customer VLAN belongs to the attachment, and ports belong
    # to tenants, so two tenants can never contend for one (nothing to refuse, nobody named).
    same = wait_for(
        lambda: _with_reason(
            cluster, "networkservices", ns_a, "alpha-vlan", "Ready", "Provisioned"
        ),
        timeout=60,
        what="tenant A's service on B's VLAN number, on A's ports",
    )
    ends = same["status"]["allocated"]["endpoints"]
    assert {e["vlan"] for e in ends} == {vlan}, ends
    wait_for(
        lambda: _with_reason(
            cluster, "networkservices", ns_a, "alpha-grab", "Ready", "PortNotAssigned"
        ),
        timeout=30,
        what="the port refusal",
    )
    assert _shared_core_port(cluster, ns_a, ns_b), "the scenario must share device items"
    plan = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Transaction",
        "metadata": {"name": "alpha-plan", "namespace": ns_a},
        "spec": {
            "dryRun": True,
            "intentRef": {"kind": "NetworkService", "name": "alpha-plan", "namespace": ns_a},
            "plannedService": {
                "endpoints": _ends(("r1", "eth1"), ("r4", "eth1")),
                "bandwidthMbps": 2,
            },
        },
    }
    done = _as(cluster, kc_a, "apply", "-f", "-", input=yaml.safe_dump(plan))
    assert done.returncode == 0, done.stderr
    planned = wait_for(
        lambda: (
            (t := _get(cluster, "transactions", ns_a, "alpha-plan")).get("status", {}).get("phase")
            and t
        ),
        timeout=30,
        what="the dry run's answer",
    )
    assert planned["status"]["phase"] == "Planned", planned["status"]
    # Transactions of A's own changes have been recorded by now (written after the change).
    wait_for(
        lambda: any(
            t["spec"].get("intentRef", {}).get("name") == "alpha-link"
            for t in cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, ns_a, "transactions"
            )["items"]
        ),
        timeout=30,
        what="alpha-link's transaction record",
    )
    # A fault on the shared path: both tenants get serviceImpacted alarms in their namespaces.
    first = link["status"]["pathLinks"][0]
    ends = next(x for x in lab.state.links if x.name == first)
    lab.link(ends.a, ends.b, up=False)
    try:
        wait_for(
            lambda: cluster.custom.list_namespaced_custom_object(GROUP, VERSION, ns_a, "alarms")[
                "items"
            ],
            timeout=30,
            what="tenant A's serviceImpacted alarm",
        )
    finally:
        lab.link(ends.a, ends.b, up=True)

    readable = _everything_readable(cluster, kc_a, ns_a)
    for secret in (ns_b, "bravo"):  # B's namespace and every one of its intents' names
        assert secret not in readable, _context(readable, secret)
    assert "alpha-link" in readable and "alpha-plan" in readable  # A does read its own world
    assert "serviceImpacted" in readable
    denied = _as(cluster, kc_a, "get", "portassignments")
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


READ = (
    "networkservices",
    "networkslices",
    "transactions",
    "alarms",
    "events",
    "serviceorders",
    "troubletickets",
)


def _everything_readable(cluster: Cluster, kubeconfig: Path, ns: str) -> str:
    """Every object of every kind the tenant's user may list in its namespace, as text."""
    allowed = _as(cluster, kubeconfig, "auth", "can-i", "--list", "-n", ns)
    assert allowed.returncode == 0, allowed.stderr
    # whatever the role lets the tenant list must be read here: a kind added to the role
    # later is not left out of this check
    assert _listable(allowed.stdout) <= set(READ), allowed.stdout
    out = []
    for kind in READ:
        got = _as(cluster, kubeconfig, "get", kind, "-n", ns, "-o", "yaml")
        assert got.returncode == 0, (kind, got.stderr)
        assert "items:" in got.stdout
        out.append(got.stdout)
    return "\n".join(out)


def _listable(can_i: str) -> set[str]:
    """Resources (plural, without group) that `kubectl auth can-i --list` says may be listed."""
    found = set()
    for line in can_i.splitlines()[1:]:
        verbs = re.search(r"\[([^\]]*)\]\s*$", line)
        first = line.split()[0] if line.split() else "["
        if verbs and not first.startswith("[") and {"list", "*"} & set(verbs.group(1).split()):
            found.add(first.split(".", 1)[0].split("/", 1)[0])
    return found


def _context(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 600) : at + 200]
