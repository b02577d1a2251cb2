"""A whole intentloop on this machine for benchmarks: control plane, lab, operator.

Each benchmark gets fresh state in a temporary directory, so figures never depend on what
an earlier run left behind. Nothing here is imported by the product.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes

from intentloop_intents import tenancy
from intentloop_lab import controlplane, inventory, labstate, lifecycle

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
GROUP, VERSION = "intentloop.io", "v1alpha1"


class Stack:
    def __init__(self, root: Path, topology: Path | None = None) -> None:
        self.root = root
        self.topology = topology  # the lab's topology file; None: the default 6 routers
        self.cp = controlplane.ControlPlane(root / "cluster")
        self.lab_dir = root / "lab"
        self.operator: subprocess.Popen[bytes] | None = None
        self.metrics_port = controlplane.free_port()
        self.api: Any = None
        self.lab: labstate.LabState | None = None

    def tenant(self, namespace: str) -> None:
        """A tenant namespace holding every customer port of the lab (the platform team's
        PortAssignments; a port held by an earlier tenant of the run is handed over)."""
        assert self.lab is not None, "the lab is not up"
        self.kubectl("create", "namespace", namespace)
        docs = [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "PortAssignment",
                "metadata": {"name": tenancy.assignment_name(router.name, port)},
                "spec": {"device": router.name, "interface": port, "tenant": namespace},
            }
            for router in self.lab.routers
            for port in router.interfaces
        ]
        self.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"kind": "List", "apiVersion": "v1", "items": docs}),
        )

    def kubectl(self, *args: str, input: str | None = None) -> str:
        out = self.cp.kubectl(*args, input=input, timeout=300)
        out.check_returncode()
        return out.stdout

    def up(self, env: dict[str, str] | None = None) -> None:
        self.cp.up(log=False)
        self.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.kubectl("create", "namespace", "intentloop-system")
        lifecycle.start(self.lab_dir, self.topology)
        self.lab = labstate.read_state(self.lab_dir)
        assert self.lab is not None, "the lab wrote no state"
        self.kubectl("apply", "-f", "-", input=inventory.render(self.lab))
        self.kubectl("apply", "-f", str(REPO / "intents" / "examples" / "10-pools.yaml"))
        self.api = kubernetes.client.CustomObjectsApi(
            kubernetes.config.new_client_from_config(config_file=str(self.cp.kubeconfig))
        )
        self.start_operator(env or {})

    def start_operator(self, env: dict[str, str], *, wait_devices: bool = True) -> None:
        roots = os.pathsep.join(str(REPO / d) for d in ("operator", "intents", "adapters", "lab"))
        log = open(self.root / "operator.log", "ab")  # noqa: SIM115 - handed to the child
        self.operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "intentloop_operator",
                "operator",
                "--kubeconfig",
                str(self.cp.kubeconfig),
                "--metrics-port",
                str(self.metrics_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": roots, **env},
        )
        log.close()
        if wait_devices:
            wait(lambda: self._healthy(), 60, "operator healthy")
            wait(lambda: self._devices_ready(), 60, "devices Ready")

    def _healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def _devices_ready(self) -> bool:
        items = self.api.list_cluster_custom_object(GROUP, VERSION, "devices")["items"]
        return bool(items) and all(i.get("status", {}).get("reachable") for i in items)

    def operator_usage(self) -> dict[str, float]:
        """Peak RSS (MiB) and CPU seconds (user+system) of the operator process so far."""
        assert self.operator is not None
        pid = self.operator.pid
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return {"peak_rss_mib": hwm / 1024, "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}

    def control_plane_pids(self) -> dict[str, int]:
        state = self.cp.state()
        assert state is not None, "the control plane is not up"
        return {name: state.pids[name] for name in ("etcd", "kube-apiserver")}

    def api_requests(self, group: str = GROUP) -> dict[tuple[str, str], float]:
        """Requests the API server has served so far for `group`, by (verb, resource)."""
        found: dict[tuple[str, str], float] = {}
        for line in self.kubectl("get", "--raw", "/metrics").splitlines():
            if not line.startswith("apiserver_request_total{") or f'group="{group}"' not in line:
                continue
            inner = line[line.index("{") + 1 : line.index("}")]
            labels = {k: v.strip('"') for k, v in (p.split("=", 1) for p in inner.split(","))}
            key = (labels.get("verb", ""), labels.get("resource", ""))
            found[key] = found.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
        return found

    def down(self) -> None:
        if self.operator is not None and self.operator.poll() is None:
            self.operator.terminate()
            try:
                self.operator.wait(15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
        lifecycle.stop(self.lab_dir)
        self.cp.down(purge=True)


@contextlib.contextmanager
def stack(env: dict[str, str] | None = None, topology: str | None = None) -> Iterator[Stack]:
    """A whole stack in a fresh directory; `topology` is a lab topology's YAML text."""
    root = Path(tempfile.mkdtemp(prefix="intentloop-bench-"))
    path = None
    if topology is not None:
        path = root / "topology.yaml"
        path.write_text(topology)
    s = Stack(root, path)
    try:
        s.up(env)
        yield s
    finally:
        s.down()


def wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_between(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]
) -> dict[str, int]:
    """The requests served between two `Stack.api_requests` readings, as "VERB resource"."""
    return {
        f"{verb} {resource}": int(count - before.get((verb, resource), 0.0))
        for (verb, resource), count in sorted(after.items())
        if count > before.get((verb, resource), 0.0)
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "machine": platform.machine(),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def write(name: str, data: dict[str, Any], table: str, command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"command": command, "machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(f"# {name}\n\nCommand: `{command}`\n\n{table}\n")
