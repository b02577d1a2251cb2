"""Fixtures for the northbound component: `intentloop api` run as its own ServiceAccount
(manifests/api-rbac.yaml, nothing more), and callers with real Kubernetes tokens."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from intentloop_lab import controlplane
from tests import tmf_specs
from tests.e2e.conftest import REPO, Cluster, wait_for

INFRA = "intentloop-system"
ROOTS = ("operator", "intents", "adapters", "lab", "api")


def token(cluster: Cluster, namespace: str, account: str) -> str:
    out = cluster.kubectl("create", "token", account, "-n", namespace, "--duration=2h")
    return out.stdout.strip()


def service_account(cluster: Cluster, namespace: str, account: str) -> None:
    cluster.kubectl("create", "serviceaccount", account, "-n", namespace, check=False)


def sa_kubeconfig(cluster: Cluster, path: Path, bearer: str) -> Path:
    """A kubeconfig with the cluster's server and CA and only `bearer` as credentials."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    c = admin["clusters"][0]["cluster"]
    ca = (
        c.get("certificate-authority-data")
        or base64.b64encode(Path(c["certificate-authority"]).read_bytes()).decode()
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": c["server"], "certificate-authority-data": ca}}
        ],
        "users": [{"name": "u", "user": {"token": bearer}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


class Api:
    """A running `intentloop api`, restartable."""

    def __init__(
        self, cluster: Cluster, workdir: Path, tls: Sequence[str] = (), verify: Any = True
    ) -> None:
        """`tls`: extra arguments (--tls-cert-file ...): then HTTPS, verified against the
        cluster's CA (`verify`)."""
        self.port = controlplane.free_port()
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.verify = verify
        self.log = workdir / "api.log"
        service_account(cluster, INFRA, "intentloop-api")
        kubeconfig = sa_kubeconfig(
            cluster, workdir / "api.kubeconfig", token(cluster, INFRA, "intentloop-api")
        )
        self.argv = [
            sys.executable,
            "-m",
            "intentloop_operator",
            "api",
            "--kubeconfig",
            str(kubeconfig),
            "--port",
            str(self.port),
            *tls,
        ]
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO / d) for d in ROOTS)}
        self.proc = self.start()

    def start(self) -> subprocess.Popen[str]:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, text=True
            )
        wait_for(
            self._ready,
            timeout=30,
            what="intentloop api /healthz",
            on_fail=lambda: self.log.read_text()[-3000:],
        )
        return self.proc

    def _ready(self) -> bool:
        try:
            reply = requests.get(f"{self.base}/healthz", timeout=2, verify=self.verify)
            return reply.status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Caller:
    """A BSS or NOC client: TMF calls with its own Kubernetes token."""

    def __init__(
        self, api: Api, bearer: str | None, namespace: str | None, cert: Any = None
    ) -> None:
        self.api, self.namespace, self.cert = api, namespace, cert
        self.headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One call; every TMF exchange is also checked against the specification."""
        reply = requests.request(
            method,
            self.api.base + path,
            headers=self.headers,
            timeout=30,
            cert=self.cert,
            verify=self.api.verify,
            **kw,
        )
        if path.startswith("/tmf-api/") and tmf_specs.specs_dir() is not None:
            body = None if reply.status_code == 204 else reply.json()
            counts = {k: v for k, v in reply.headers.items() if k.startswith("X-")}
            tmf_specs.validate(
                method,
                path,
                dict(kw.get("params") or {}),
                kw.get("json"),
                reply.status_code,
                counts,
                body,
            )
        return reply

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.call("POST", path, json=body)


def running_api(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """For a module's `api` fixture: the component, up with its RBAC and the user roles."""
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "user-roles.yaml"))
    cluster.kubectl("create", "namespace", INFRA, check=False)
    cluster.kubectl("apply", "-f", str(REPO / "manifests" / "api-rbac.yaml"))
    server = Api(cluster, tmp_path_factory.mktemp("api"))
    yield server
    server.stop()


def tenant_bss(cluster: Cluster, api: Api, namespace: str) -> Caller:
    """The tenant's BSS: a ServiceAccount of its namespace bound to intentloop-tenant."""
    service_account(cluster, namespace, "bss")
    cluster.kubectl(
        "create",
        "rolebinding",
        "bss",
        "--clusterrole=intentloop-tenant",
        f"--serviceaccount={namespace}:bss",
        "-n",
        namespace,
        check=False,
    )
    return Caller(api, token(cluster, namespace, "bss"), namespace)


def noc(cluster: Cluster, api: Api, namespace: str) -> Caller:
    """The NOC: a ServiceAccount bound cluster-wide to intentloop-noc."""
    service_account(cluster, namespace, "noc")
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        f"noc-{namespace}",
        "--clusterrole=intentloop-noc",
        f"--serviceaccount={namespace}:noc",
    )
    return Caller(api, token(cluster, namespace, "noc"), None)


class Listener:
    """A BSS's TMF listener: records every event POSTed to it; can go down and come back
    on the same port."""

    def __init__(self, fail_first: int = 0) -> None:
        import threading

        self.port = controlplane.free_port()
        self.url = f"http://127.0.0.1:{self.port}/bss"
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self.start()

    def start(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner._lock:
                    owner.events.append(json.loads(body))
                    owner.paths.append(self.path)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def of(self, event_type: str, resource: str, ident: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e["event"][resource]
                for e in self.events
                if e["eventType"] == event_type and e["event"][resource]["id"] == ident
            ]

    def types(self) -> list[str]:
        with self._lock:
            return [e["eventType"] for e in self.events]

    def of_type(self, event_type: str, resource: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e["event"][resource] for e in self.events if e["eventType"] == event_type]
