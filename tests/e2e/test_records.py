"""Records people can trust, through a real API server with per-user client certificates:
tenants only plan (dry runs), cannot forge or erase the operator's records, acknowledge
alarms under their own authenticated name; a dry run always finishes, naming no other
tenant; a drift repair is a Transaction on record like every other change."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import REPO, AssignPorts, Cluster, Lab, Operator, wait_for

GROUP, VERSION = "intentloop.io", "v1alpha1"
INFRA = "intentloop-system"
PLATFORM_GROUP = "intentloop:platform"


def _as(cluster: Cluster, kubeconfig: Path, *args: str, input: str | None = None) -> Any:
    return subprocess.run(
        [cluster.kubectl_bin, "--kubeconfig", str(kubeconfig), *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _transaction(ns: str, name: str, *, dry_run: bool, **spec: Any) -> str:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Transaction",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"dryRun": dry_run, **spec},
    }
    return yaml.safe_dump(body)


class People:
    """A tenant user bound in its namespace, and a platform-team user (group membership)."""

    def __init__(self, cluster: Cluster, unique: Any) -> None:
        cp = cluster.control_plane
        assert cp is not None
        self.ns = unique("tenant-r")
        self.tenant = f"alice-{self.ns}"
        self.platform = unique("pat")
        cluster.kubectl("apply", "-f", str(REPO / "manifests" / "user-roles.yaml"))
        cluster.kubectl("create", "namespace", self.ns)
        cluster.kubectl(
            "create", "rolebinding", "tenant", "--clusterrole=intentloop-tenant",
            f"--user={self.tenant}", "-n", self.ns,
        )  # fmt: skip
        self.binding = unique("platform")
        cluster.kubectl(
            "create", "clusterrolebinding", self.binding, "--clusterrole=intentloop-admin",
            f"--group={PLATFORM_GROUP}",
        )  # fmt: skip
        self.tenant_kc = cp.user_kubeconfig(self.tenant)
        self.platform_kc = cp.user_kubeconfig(self.platform, (PLATFORM_GROUP,))


@pytest.fixture
def people(cluster: Cluster, unique: Any) -> Iterator[People]:
    if cluster.control_plane is None:
        pytest.skip("per-user certificates need the local control plane")
    p = People(cluster, unique)
    yield p
    cluster.kubectl("delete", "clusterrolebinding", p.binding, check=False)
    cluster.kubectl("delete", "namespace", p.ns, "--wait=false", check=False)


def _policy_active(cluster: Cluster, people: People) -> bool:
    """Policies take effect a moment after they are stored: ask with a server-side dry run."""
    probe = _transaction(people.ns, "probe", dry_run=False)
    out = _as(cluster, people.tenant_kc, "create", "--dry-run=server", "-f", "-", input=probe)
    return out.returncode != 0 and "intentloop-audit-trail" in out.stderr


@pytest.mark.e2e
def test_a_tenant_plans_but_cannot_forge_or_erase_the_record(
    cluster: Cluster, people: People
) -> None:
    ns = people.ns
    wait_for(lambda: _policy_active(cluster, people), timeout=30, what="audit-trail policy")

    forged = _as(
        cluster, people.tenant_kc, "create", "-f", "-",
        input=_transaction(ns, "forged", dry_run=False, devices=["r1"]),
    )  # fmt: skip
    assert forged.returncode != 0
    assert "spec.dryRun: must be true" in forged.stderr, forged.stderr
    assert "forged" not in cluster.kubectl("get", "ntx", "-n", ns, "-o", "name").stdout

    plan = _as(
        cluster, people.tenant_kc, "create", "-f", "-",
        input=_transaction(ns, "my-plan", dry_run=True),
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr

    # A record as the operator writes it (the e2e operator runs with this same identity).
    cluster.kubectl(
        "create", "-f", "-", input=_transaction(ns, "record", dry_run=False, devices=["r1"])
    )
    erased = _as(cluster, people.tenant_kc, "delete", "ntx", "record", "-n", ns)
    assert erased.returncode != 0
    assert "only the platform team" in erased.stderr, erased.stderr
    assert cluster.kubectl("get", "ntx", "record", "-n", ns, check=False).returncode == 0

    mine = _as(cluster, people.tenant_kc, "delete", "ntx", "my-plan", "-n", ns)
    assert mine.returncode == 0, mine.stderr
    by_platform = _as(cluster, people.platform_kc, "delete", "ntx", "record", "-n", ns)
    assert by_platform.returncode == 0, by_platform.stderr
    assert cluster.kubectl("get", "ntx", "record", "-n", ns, check=False).returncode != 0


def _ack(cluster: Cluster, people: People, patch: dict[str, Any], *extra: str) -> Any:
    return _as(
        cluster, people.tenant_kc, "patch", "alarm", "fault", "-n", people.ns, "--type=merge",
        "-p", json.dumps({"spec": patch}), "-o", "json", *extra,
    )  # fmt: skip


@pytest.mark.e2e
def test_an_acknowledgement_records_the_authenticated_user_not_a_chosen_name(
    cluster: Cluster, people: People
) -> None:
    alarm = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Alarm",
        "metadata": {"name": "fault", "namespace": people.ns},
        "spec": {"acknowledged": False},
    }
    made = cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(alarm), check=False)
    assert made.returncode == 0, made.stderr
    forged = {"acknowledged": True, "acknowledgedBy": "noc-supervisor"}

    def recorded_by_server() -> bool:
        out = _ack(cluster, people, forged, "--dry-run=server")
        return out.returncode == 0 and people.tenant in out.stdout

    wait_for(recorded_by_server, timeout=30, what="alarm-ack policy")

    out = _ack(cluster, people, forged)
    assert out.returncode == 0, out.stderr

    def stored() -> dict[str, Any]:
        obj: dict[str, Any] = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, people.ns, "alarms", "fault"
        )
        return {k: obj["spec"].get(k) for k in ("acknowledged", "acknowledgedBy")}

    assert stored() == {"acknowledged": True, "acknowledgedBy": people.tenant}
    # Renaming the acknowledger afterwards records the author of that change again.
    assert _ack(cluster, people, {"acknowledgedBy": "someone-else"}).returncode == 0
    assert stored()["acknowledgedBy"] == people.tenant
    assert _ack(cluster, people, {"acknowledged": False}).returncode == 0
    assert stored() == {"acknowledged": False, "acknowledgedBy": ""}
    # Clearing by hand and commenting name their author too: someone else's name is refused.
    tries = iter(range(1000))

    def clear_refused() -> Any:  # a fresh name each try: the policy may take a moment
        out = _ack(cluster, people, {"clearedBy": f"someone-else-{next(tries)}"})
        return out.returncode != 0 and out

    forged_clear = wait_for(clear_refused, timeout=30, what="a forged clearedBy refused")
    assert "spec.clearedBy" in forged_clear.stderr
    forged_note = _ack(cluster, people, {"comments": [{"comment": "x", "userId": "noc-admin"}]})
    assert forged_note.returncode != 0 and "spec.comments" in forged_note.stderr
    assert _ack(cluster, people, {"clearedBy": people.tenant}).returncode == 0


def _service(ns: str, name: str, a: tuple[str, str], b: tuple[str, str], **spec: Any) -> Any:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "NetworkService",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "endpoints": [{"device": a[0], "interface": a[1]}, {"device": b[0], "interface": b[1]}],
            "bandwidthMbps": 5,
            **spec,
        },
    }


def _get(cluster: Cluster, ns: str, plural: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = cluster.custom.get_namespaced_custom_object(
        GROUP, VERSION, ns, plural, name
    )
    return obj


def _finished(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    obj = _get(cluster, ns, "transactions", name)
    return obj if obj.get("status", {}).get("phase") in ("Planned", "Failed") else None


@pytest.mark.e2e
def test_another_tenants_vlan_does_not_constrain_a_plan_which_shows_the_vlans_it_gets(
    cluster: Cluster,
    lab: Lab,
    operator: Operator,
    people: People,
    namespace: str,
    assign_ports: AssignPorts,
) -> None:
    assign_ports(namespace, [("r3", "eth2"), ("r6", "eth2")])
    assign_ports(people.ns, [("r1", "eth2"), ("r4", "eth2")])
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    other = _service(namespace, "their-link", ("r3", "eth2"), ("r6", "eth2"))
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(other))
    held = wait_for(
        lambda: _endpoint_vlans(cluster, namespace, "their-link"),
        timeout=60,
        what="the other tenant's service holds its VLANs",
    )[0]
    # A customer VLAN is the customer's at its port: the same number elsewhere is free.
    planned = _service(people.ns, "mine", ("r1", "eth2"), ("r4", "eth2"), vlan=held)
    tx = _transaction(
        people.ns, "same-vlan", dry_run=True, plannedService=planned["spec"],
        intentRef={"kind": "NetworkService", "name": "mine", "namespace": people.ns},
    )  # fmt: skip
    made = _as(cluster, people.tenant_kc, "create", "-f", "-", input=tx)
    assert made.returncode == 0, made.stderr
    done = wait_for(lambda: _finished(cluster, people.ns, "same-vlan"), timeout=60, what="plan")
    assert done["status"]["phase"] == "Planned", done["status"]
    assert f"vlan {held}/{held}" in done["status"]["message"]
    # Nothing the tenant can read about it names the other tenant: status, kopf's own
    # annotations, Events.
    events = cluster.kubectl("get", "events", "-n", people.ns, "-o", "json").stdout
    visible = json.dumps(done) + events
    assert namespace not in visible and "their-link" not in visible

    # Without a VLAN asked for, the plan shows the ones provisioning then really takes.
    del planned["spec"]["vlan"]
    tx = _transaction(
        people.ns, "preview", dry_run=True, plannedService=planned["spec"],
        intentRef={"kind": "NetworkService", "name": "mine", "namespace": people.ns},
    )  # fmt: skip
    assert _as(cluster, people.tenant_kc, "create", "-f", "-", input=tx).returncode == 0
    shown = wait_for(lambda: _finished(cluster, people.ns, "preview"), timeout=60, what="plan")
    assert shown["status"]["phase"] == "Planned", shown["status"]
    vlans = [int(v) for v in re.findall(r"vlan (\d+)/(\d+)", shown["status"]["message"])[0]]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(planned))
    taken = wait_for(
        lambda: _endpoint_vlans(cluster, people.ns, "mine"),
        timeout=60,
        what="the planned service holds its VLANs",
    )
    assert taken == vlans


def _endpoint_vlans(cluster: Cluster, ns: str, name: str) -> list[int] | None:
    held = _get(cluster, ns, "networkservices", name).get("status", {}).get("allocated", {})
    return [e["vlan"] for e in held.get("endpoints") or []] or None


def _committed(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    pattern = r'^intentloop_transactions_total\{outcome="Committed"\} ([0-9.e+]+)$'
    found = re.findall(pattern, text, re.MULTILINE)
    return float(found[0]) if found else 0.0


def _repair_records(cluster: Cluster, device: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.custom.list_namespaced_custom_object(
        GROUP, VERSION, INFRA, "transactions", label_selector=f"intentloop.io/drift-repair={device}"
    )["items"]
    return items


@pytest.mark.e2e
def test_a_drift_repair_is_a_transaction_on_record_and_counted(
    cluster: Cluster, lab: Lab, operator: Operator, namespace: str, assign_ports: AssignPorts
) -> None:
    assign_ports(namespace, [("r3", "eth1"), ("r2", "eth1")])
    cluster.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
    svc = _service(namespace, "kept", ("r3", "eth1"), ("r2", "eth1"))
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(svc))
    wait_for(
        lambda: (
            _get(cluster, namespace, "networkservices", "kept").get("status", {}).get("phase")
            == "Ready"
        ),
        timeout=60,
        what="service Ready",
    )
    before = {r["metadata"]["name"] for r in _repair_records(cluster, "r3")}
    committed = _committed(operator.metrics_port)
    lab.device("r3", "tamper")

    def new_record() -> dict[str, Any] | None:
        fresh = [r for r in _repair_records(cluster, "r3") if r["metadata"]["name"] not in before]
        done = [r for r in fresh if r.get("status", {}).get("phase")]
        return done[0] if done else None

    record = wait_for(
        new_record,
        timeout=60,
        what="a Transaction record of the repair",
        on_fail=lambda: operator.log.read_text()[-3000:],
    )
    assert record["spec"]["dryRun"] is False
    assert record["spec"]["intentRef"] == {"kind": "Device", "name": "r3"}
    assert record["spec"]["reason"].startswith("drift repair of device r3")
    assert record["spec"]["devices"] == ["r3"]
    assert record["status"]["phase"] == "Committed", record["status"]
    assert [d["outcome"] for d in record["status"]["devices"]] == ["changed"]
    assert _committed(operator.metrics_port) > committed
    wait_for(
        lambda: (
            cluster.custom.get_cluster_custom_object(GROUP, VERSION, "deviceconfigs", "r3")
            .get("status", {})
            .get("lastAppliedTransaction")
            == f"{INFRA}/{record['metadata']['name']}"
        ),
        timeout=30,
        what="the DeviceConfig points at the repair's record",
    )
