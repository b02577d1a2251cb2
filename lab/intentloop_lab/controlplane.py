"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager.

No container engine is needed: the binaries are built from the Go module proxy by
`hack/build-k8s.sh` (cached by version) and run as plain processes. Everything lives in one
state directory (certificates, etcd data, logs, pids, kubeconfig); `down --purge` removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from intentloop_lab import labstate
from intentloop_lab.cluster_pki import ClusterPki

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-k8s.sh"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager")


def default_state_dir() -> Path:
    base = os.environ.get("INTENTLOOP_STATE_DIR")
    root = Path(base) if base else Path.home() / ".local" / "state" / "intentloop"
    return root / "cluster"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_binaries(*, quiet: bool = False) -> Path:
    """Build (first time, minutes) or find (afterwards, instant) the control-plane binaries."""
    stderr = subprocess.DEVNULL if quiet else None
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=True, stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class ClusterState:
    bin_dir: str
    etcd_client_port: int
    etcd_peer_port: int
    apiserver_port: int
    pids: dict[str, int]

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"


_alive = labstate.pid_alive  # a zombie child of ours counts as gone


class ControlPlane:
    def __init__(self, state_dir: Path | None = None) -> None:
        self.dir = state_dir or default_state_dir()
        self.pki = ClusterPki(self.dir / "pki")

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def _state_file(self) -> Path:
        return self.dir / "state.json"

    def state(self) -> ClusterState | None:
        try:
            return ClusterState(**json.loads(self._state_file.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def is_running(self) -> bool:
        st = self.state()
        return st is not None and all(_alive(p) for p in st.pids.values()) and self._ready(st)

    def up(self, *, log: bool = True, timeout_s: float = 120.0) -> ClusterState:
        """Start the control plane, or return the running one (idempotent)."""
        st = self.state()
        if st is not None and all(_alive(p) for p in st.pids.values()) and self._ready(st):
            return st
        self.down()
        bin_dir = ensure_binaries(quiet=not log)
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "logs").mkdir(exist_ok=True)
        self.pki.ensure()
        st = ClusterState(str(bin_dir), free_port(), free_port(), free_port(), {})
        st.pids["etcd"] = self._spawn("etcd", self._etcd_args(st))
        self._save(st)
        st.pids["kube-apiserver"] = self._spawn("kube-apiserver", self._apiserver_args(st))
        self._save(st)
        self._write_kubeconfigs(st)
        self._wait_ready(st, timeout_s)
        st.pids["kube-controller-manager"] = self._spawn(
            "kube-controller-manager", self._kcm_args(st)
        )
        self._save(st)
        return st

    def down(self, *, purge: bool = False) -> None:
        st = self.state()
        if st is not None:
            for name in reversed(list(st.pids)):
                _terminate(st.pids[name])
            self._state_file.unlink(missing_ok=True)
        if purge and self.dir.exists():
            import shutil

            shutil.rmtree(self.dir)

    # -- processes -------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> int:
        log = open(self.dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to child
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.dir,
        )
        log.close()
        return proc.pid

    def _etcd_args(self, st: ClusterState) -> list[str]:
        data = self.dir / "etcd"
        client = f"http://127.0.0.1:{st.etcd_client_port}"
        return [
            f"{st.bin_dir}/etcd",
            f"--data-dir={data}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls=http://127.0.0.1:{st.etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{st.etcd_peer_port}",
            f"--initial-cluster=default=http://127.0.0.1:{st.etcd_peer_port}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_args(self, st: ClusterState) -> list[str]:
        p = self.pki.path
        return [
            f"{st.bin_dir}/kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{st.etcd_client_port}",
            f"--secure-port={st.apiserver_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--tls-cert-file={p('apiserver.crt')}",
            f"--tls-private-key-file={p('apiserver.key')}",
            f"--client-ca-file={p('ca.crt')}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p('sa.pub')}",
            f"--service-account-signing-key-file={p('sa.key')}",
            "--disable-admission-plugins=ServiceAccount",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=false",
            f"--cert-dir={self.dir / 'pki'}",
            "--v=1",
        ]

    def _kcm_args(self, st: ClusterState) -> list[str]:
        return [
            f"{st.bin_dir}/kube-controller-manager",
            f"--kubeconfig={self.dir / 'controller-manager.kubeconfig'}",
            "--controllers=namespace,garbagecollector",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--v=1",
        ]

    # -- readiness and kubeconfig ------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.path("ca.crt")))
        ctx.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        return ctx

    def _ready(self, st: ClusterState) -> bool:
        try:
            req = urllib.request.Request(f"{st.server}/readyz")  # noqa: S310 - https on loopback
            with urllib.request.urlopen(req, context=self._ssl_context(), timeout=2) as r:  # noqa: S310
                return bool(r.status == 200)
        except OSError:
            return False

    def _wait_ready(self, st: ClusterState, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, pid in st.pids.items():
                if not _alive(pid):
                    tail = (self.dir / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited during start-up:\n{tail}")
            if self._ready(st):
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"kube-apiserver not ready within {timeout_s:.0f}s (see {self.dir}/logs)"
        )

    def _write_kubeconfigs(self, st: ClusterState) -> None:
        self._kubeconfig(st, self.kubeconfig, "admin", "intentloop-admin")
        self._kubeconfig(
            st, self.dir / "controller-manager.kubeconfig", "controller-manager", "kcm"
        )

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run this control plane's own kubectl as the admin (the caller checks the result)."""
        st = self.state()
        if st is None:
            raise RuntimeError("control plane is not running")
        return subprocess.run(
            [f"{st.bin_dir}/kubectl", "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def user_kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for a named user (client certificate), e.g. to test RBAC for real."""
        st = self.state()
        if st is None:
            raise RuntimeError("control plane is not running")
        stem = f"user-{user}"
        self.pki.client(stem, user, groups)
        path = self.dir / f"{stem}.kubeconfig"
        self._kubeconfig(st, path, stem, user)
        return path

    def _kubeconfig(self, st: ClusterState, path: Path, stem: str, user: str) -> None:
        p = self.pki.path
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "intentloop-local",
                    "cluster": {"server": st.server, "certificate-authority": str(p("ca.crt"))},
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate": str(p(f"{stem}.crt")),
                        "client-key": str(p(f"{stem}.key")),
                    },
                }
            ],
            "contexts": [
                {
                    "name": f"{user}@intentloop-local",
                    "context": {"cluster": "intentloop-local", "user": user},
                }
            ],
            "current-context": f"{user}@intentloop-local",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)

    def _save(self, st: ClusterState) -> None:
        self._state_file.write_text(json.dumps(asdict(st), indent=2))


def _terminate(pid: int, timeout_s: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
