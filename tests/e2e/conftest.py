"""e2e fixtures: a real kube-apiserver (the local control plane, or an existing cluster).

`INTENTLOOP_E2E_KUBECONFIG=<path>` runs the suite against an existing cluster instead of
starting one. Nothing here talks to a mock of the API server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from intentloop_intents.tenancy import assignment_name
from intentloop_lab import control, controlplane, inventory, labstate, lifecycle

REPO = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(self, kubeconfig: Path, kubectl_bin: str, cp: controlplane.ControlPlane | None):
        self.kubeconfig = kubeconfig
        self.kubectl_bin = kubectl_bin
        self.control_plane = cp
        self.api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    @property
    def custom(self) -> Any:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def core(self) -> Any:
        return kubernetes.client.CoreV1Api(self.api)


def _kubectl_bin(cp_state: controlplane.ClusterState | None) -> str:
    if cp_state is not None:
        return f"{cp_state.bin_dir}/kubectl"
    return str(controlplane.ensure_binaries() / "kubectl")


_PROBE = ("create", "--dry-run=server", "-o", "name", "-f", "-")
_PROBE_ALARM = """{"apiVersion": "intentloop.io/v1alpha1", "kind": "Alarm",
 "metadata": {"name": "probe", "namespace": "default"}, "spec": {}}"""


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    existing = os.environ.get("INTENTLOOP_E2E_KUBECONFIG")
    cp: controlplane.ControlPlane | None = None
    if existing:
        kubeconfig, state = Path(existing), None
    else:
        cp = controlplane.ControlPlane(tmp_path_factory.mktemp("cluster"))
        state = cp.up(log=False)
        kubeconfig = cp.kubeconfig
    c = Cluster(kubeconfig, _kubectl_bin(state), cp)
    c.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
    c.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    # As deployed: tenants plan only, records and acknowledgements name who really wrote them.
    c.kubectl("apply", "-f", str(REPO / "manifests" / "admission-policies.yaml"))
    wait_for(  # the mutating policy needs the new kinds' schemas: ServiceUnavailable until then
        lambda: c.kubectl(*_PROBE, input=_PROBE_ALARM, check=False).returncode == 0,
        timeout=120,
        what="admission policies in force",
    )
    try:
        yield c
    finally:
        if cp is not None:
            cp.down(purge=True)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def unique() -> Callable[[str], str]:
    tag = uuid.uuid4().hex[:6]
    return lambda base: f"{base}-{tag}"


AssignPorts = Callable[[str, Sequence[tuple[str, str]]], None]


@pytest.fixture
def assign_ports(cluster: Cluster) -> Iterator[AssignPorts]:
    """`assign_ports(namespace, [(device, interface), ...])`: PortAssignments for the test.

    A port assigned elsewhere (the examples, a test that crashed) is taken over for the
    test; at teardown every port goes back to where it was, or its assignment is deleted.
    """
    previous: dict[str, str | None] = {}

    def assign(namespace: str, ports: Sequence[tuple[str, str]]) -> None:
        for device, interface in ports:
            name = assignment_name(device, interface)
            body = {
                "apiVersion": "intentloop.io/v1alpha1",
                "kind": "PortAssignment",
                "metadata": {"name": name},
                "spec": {"device": device, "interface": interface, "tenant": namespace},
            }
            try:
                cluster.custom.create_cluster_custom_object(
                    "intentloop.io", "v1alpha1", "portassignments", body
                )
                previous.setdefault(name, None)
            except kubernetes.client.ApiException as e:
                if e.status != 409:
                    raise
                old = cluster.custom.get_cluster_custom_object(
                    "intentloop.io", "v1alpha1", "portassignments", name
                )
                previous.setdefault(name, old["spec"]["tenant"])
                _set_tenant(cluster, name, namespace)

    yield assign
    for name, tenant in previous.items():
        if tenant is not None:
            _set_tenant(cluster, name, tenant)
            continue
        try:
            cluster.custom.delete_cluster_custom_object(
                "intentloop.io", "v1alpha1", "portassignments", name
            )
        except kubernetes.client.ApiException as e:
            if e.status != 404:
                raise


def _set_tenant(cluster: Cluster, name: str, tenant: str) -> None:
    cluster.custom.patch_cluster_custom_object(
        "intentloop.io", "v1alpha1", "portassignments", name, {"spec": {"tenant": tenant}}
    )


def lab_ports(lab: Lab) -> list[tuple[str, str]]:
    """Every customer port of the lab."""
    return [(r.name, port) for r in lab.state.routers for port in r.interfaces]


class Operator:
    argv: list[str]
    env: dict[str, str]

    def __init__(self, start: Callable[[], subprocess.Popen[str]], log: Path, metrics_port: int):
        self._start, self.log, self.metrics_port = start, log, metrics_port
        self.proc = start()

    def wait_healthy(self) -> None:
        wait_for(
            lambda: _healthy(self.metrics_port),
            timeout=30,
            what="operator /healthz",
            on_fail=lambda: self.log.read_text()[-3000:],
        )

    def crash_and_restart(self) -> None:
        """SIGKILL (no clean-up of any kind), then start a fresh process."""
        self.proc.kill()
        self.proc.wait()
        self.proc = self._start()
        self.wait_healthy()

    def start_again(self) -> None:
        if self.proc.poll() is not None:
            self.proc = self._start()
            self.wait_healthy()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Lab:
    """The lab network (real netconfd + gNMI targets), its inventory applied to the cluster."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        state = labstate.read_state(state_dir)
        assert state is not None, f"the lab wrote no state in {state_dir}"
        self.state = state

    def call(self, request: Any) -> Any:
        return control.call(self.state.socket, request)

    def link(self, a: str, b: str, *, up: bool) -> None:
        self.call(control.LinkAdmin(a=a, b=b, up=up))

    def device(self, router: str, action: str) -> None:
        self.call(control.DeviceAction(router=router, action=action))


@pytest.fixture(scope="session")
def lab(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    state_dir = tmp_path_factory.mktemp("lab")
    lifecycle.start(state_dir, None)
    try:
        the_lab = Lab(state_dir)
        cluster.kubectl("create", "namespace", "intentloop-system", check=False)
        cluster.kubectl("apply", "-f", "-", input=inventory.render(the_lab.state))
        yield the_lab
    finally:
        lifecycle.stop(state_dir)


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster, lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    port = controlplane.free_port()
    roots = os.pathsep.join(str(REPO / d) for d in ("operator", "intents", "adapters", "lab"))
    env = {
        **os.environ,
        "PYTHONPATH": roots,
        "INTENTLOOP_DEVICE_PROBE_INTERVAL": "2",
        "INTENTLOOP_DRIFT_INTERVAL": "2",
    }
    argv = [sys.executable, "-m", "intentloop_operator", "operator"]
    argv += ["--kubeconfig", str(cluster.kubeconfig), "--metrics-port", str(port)]

    def start() -> subprocess.Popen[str]:
        with open(log, "a") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, text=True)

    op = Operator(start, log, port)
    op.argv, op.env = argv, env
    op.wait_healthy()
    try:
        yield op
    finally:
        op.stop()


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def wait_for(
    predicate: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    on_fail: Callable[[], str] | None = None,
) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` (and extra context) otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    extra = on_fail() if on_fail else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{extra}")


def load_yaml(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def lab_adapter(lab: Lab, router: str) -> Any:
    """An adapter to a lab router built from the lab's own files (host key and CA checked)."""
    from intentloop_adapters.gnmi import GnmiAdapter
    from intentloop_adapters.netconf import NetconfAdapter

    info = lab.state.router(router)
    if info.netconf is not None:
        return NetconfAdapter(
            name=router,
            host=lab.state.address,
            port=info.netconf.port,
            username=info.netconf.username,
            private_key=info.netconf.private_key_file.read_text(),
            known_host_key=info.netconf.host_key,
        )
    return GnmiAdapter(
        name=router,
        host=lab.state.address,
        port=info.gnmi.port,
        username=info.gnmi.username,
        password=info.gnmi.password_file.read_text().strip(),
        ca_pem=info.gnmi.ca_file.read_text(),
        server_name=info.gnmi.server_name,
        model=info.model,
    )


def holds(lab: Lab, router: str, tree: Any) -> Any:
    """What `router` holds of `tree` once applied: an OpenConfig router keeps no owners."""
    if lab.state.router(router).model == "openconfig":
        return tree.without_owners()
    return tree.canonical()


def on_device(lab: Lab, router: str, work: Callable[[Any], Any], attempts: int = 5) -> Any:
    """`await work(adapter)` on a fresh session to the router, as a person at the box would:
    a busy device (a reply late under load, the candidate locked by the controller's own
    change) is tried again a few times, like that person would."""
    import asyncio

    from intentloop_adapters.errors import TransientDeviceError

    async def once() -> Any:
        adapter = lab_adapter(lab, router)
        await adapter.connect()
        try:
            return await work(adapter)
        finally:
            await adapter.close()

    for attempt in range(attempts):
        try:
            return asyncio.run(once())
        except TransientDeviceError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def running_config(lab: Lab, router: str) -> Any:
    """What the device itself holds now (read over NETCONF or gNMI, not from Kubernetes)."""

    async def read(adapter: Any) -> Any:
        return await adapter.get_config()

    return on_device(lab, router, read)


def service_subinterfaces(lab: Lab, router: str, namespace: str, name: str) -> set[str]:
    """The sub-interfaces a service has on `router` as the router holds them: those in its
    L2 instance or its VRF (each port carries its own tag, so the tag does not say)."""
    from intentloop_intents import compilation

    owner = f"{namespace}/{name}"
    l2, vrf = compilation.l2_instance_name(owner), compilation.vrf_name(owner)
    subs = running_config(lab, router).subinterfaces
    return {s.name for s in subs if s.l2_instance == l2 or s.vrf == vrf}


def customer_vlans(obj: dict[str, Any]) -> dict[tuple[str, str], int]:
    """(device, interface) → the customer's VLAN the operator holds there (from status)."""
    ends = obj["status"]["allocated"]["endpoints"]
    return {(e["device"], e["interface"]): e["vlan"] for e in ends}
