"""`intentloop demo`: the whole controller on one machine, step by step.

Brings up the local control plane and the lab, runs the operator in the background,
applies the example intents, waits until they are realised on the devices, then leaves
everything running for the user to explore with kubectl. `intentloop demo down` removes it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intentloop_lab import (
    control,
    controlplane,
    demo_maintenance,
    demo_traffic,
    inventory,
    labstate,
    lifecycle,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "intents" / "examples"
API_PORT = int(os.environ.get("INTENTLOOP_API_PORT", "8443"))


def _root() -> Path:
    return controlplane.default_state_dir().parent


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="control plane + lab + operator + example intents")
    demo.add_argument("action", nargs="?", default="up", choices=["up", "down"])
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for Ready")
    demo.set_defaults(func=_demo)


def _step(message: str) -> float:
    print(f"==> {message}", file=sys.stderr, flush=True)
    return time.monotonic()


def _done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cp = controlplane.ControlPlane(root / "cluster")
        self.lab_dir = root / "lab"
        self.operator_dir = root / "operator"
        self.kubectl_bin = ""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        out = self.cp.kubectl(*args, input=input)
        if check and out.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed:\n{out.stderr}")
        return out.stdout

    def up(self, timeout: float) -> int:
        t = _step("local control plane (etcd, kube-apiserver, kube-controller-manager)")
        state = self.cp.up()
        self.kubectl_bin = f"{state.bin_dir}/kubectl"
        _done(t)
        t = _step("CustomResourceDefinitions and namespaces")
        self.kubectl("apply", "--server-side", "-k", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        self.kubectl("apply", "-f", str(EXAMPLES / "00-namespaces.yaml"))
        # Who may do what: the people's roles and the policies that keep the records honest.
        for manifest in ("user-roles.yaml", "admission-policies.yaml"):
            self.kubectl("apply", "-f", str(REPO / "manifests" / manifest))
        _done(t)
        t = _step("lab network (real netconfd devices + gNMI targets)")
        lifecycle.start(self.lab_dir, None)
        lab = labstate.read_state(self.lab_dir)
        if lab is None:
            raise SystemExit(f"the lab did not write its state in {self.lab_dir}")
        self.kubectl("apply", "-f", "-", input=inventory.render(lab))
        _done(t)
        t = _step("operator, and the northbound component (intentloop api)")
        self._start_operator()
        self._start_api()
        _done(t)
        t = _step("example intents: two tenants' slices and services")
        self.kubectl("apply", "-f", str(EXAMPLES))
        ok = self._wait_ready(timeout)
        _done(t)
        print(self.kubectl("get", "networkslices,networkservices", "-A"))
        if ok:
            self._traffic_scene(lab)
            self._failure_scene(lab)
            demo_maintenance.scene(self.kubectl, self._services, lab, _wait)
        self._explain()
        return 0 if ok else 1

    def _render(self, name: str, title: str) -> None:
        out = self.root / name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "intentloop_operator",
                "topology",
                "render",
                "-o",
                str(out),
                "--kubeconfig",
                str(self.cp.kubeconfig),
                "--title",
                title,
            ],
            check=False,
            env=self._env(),
            capture_output=True,
            timeout=60,
        )
        print(f"    picture: {out}", file=sys.stderr)

    def _env(self) -> dict[str, str]:
        roots = [str(REPO / d) for d in ("operator", "intents", "adapters", "lab", "api")]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(roots)}

    def _failure_scene(self, lab: labstate.LabState) -> None:
        """Fail a link under services that can move, show alarms and re-paths, repair it."""
        services = self._services()
        movable = [o for o in services if not o["spec"].get("sliceRef")]
        counts: dict[str, int] = {}
        for o in movable:
            for link in o.get("status", {}).get("pathLinks", []):
                counts[link] = counts.get(link, 0) + 1
        if not counts:
            return
        bound: dict[str, int] = {}  # services a slice holds on the link: they would not move
        for o in services:
            if o["spec"].get("sliceRef"):
                for link in o.get("status", {}).get("pathLinks", []):
                    bound[link] = bound.get(link, 0) + 1
        link = max(sorted(counts), key=lambda k: (-bound.get(k, 0), counts[k]))
        info = next(x for x in lab.links if x.name == link)
        self._render("topology-before.svg", "intentloop demo: before")
        moving = [o for o in movable if link in o.get("status", {}).get("pathLinks", [])]
        with demo_traffic.watching(lab, moving) as watch:
            t = _step(f"failure: link {link} down (lab link down {info.a} {info.b})")
            control.call(lab.socket, control.LinkAdmin(a=info.a, b=info.b, up=False))
            _wait(lambda: self._moved_off(link), 60)
            _done(t)
            if watch is not None:
                watch.report(_wait)
        print(self.kubectl("get", "alarms", "-A"))
        columns = (
            "NAMESPACE:.metadata.namespace,NAME:.metadata.name,PHASE:.status.phase,"
            "PATH:.status.path,LAST-REMEDIATION:.status.remediations[-1].reason"
        )
        print(self.kubectl("get", "networkservices", "-A", "-o", f"custom-columns={columns}"))
        self._render("topology-after.svg", f"intentloop demo: {link} down, services re-pathed")
        t = _step(f"repair: link {link} up; its alarm clears")
        control.call(lab.socket, control.LinkAdmin(a=info.a, b=info.b, up=True))
        _wait(lambda: self._alarm_state(f"link-{link}-linkdown") == "cleared", 30)
        _done(t)

    def _traffic_scene(self, lab: labstate.LabState) -> None:
        """Traffic between each service's two sites: reachability and a short rate test."""
        t = _step("traffic between each service's customer sites")
        why = demo_traffic.unavailable(lab)
        if why:
            print(f"    skipped: {why}", file=sys.stderr)
        else:
            demo_traffic.show(lab, self._services())
        _done(t)

    def _services(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            self.kubectl("get", "networkservices", "-A", "-o", "json")
        )["items"]
        return items

    def _moved_off(self, link: str) -> bool:
        """Every service not bound to a slice is Ready on a path avoiding `link`."""
        for o in self._services():
            if o["spec"].get("sliceRef"):
                continue
            status = o.get("status", {})
            if status.get("phase") != "Ready" or link in status.get("pathLinks", []):
                return False
        return True

    def _alarm_state(self, name: str) -> str:
        return self.kubectl(
            "get",
            "alarm",
            name,
            "-n",
            "intentloop-system",
            "-o",
            "jsonpath={.status.state}",
            check=False,
        )

    def _start_operator(self) -> None:
        self._background("operator", ["operator", "--metrics-port", "0"])

    def _start_api(self) -> None:
        """The northbound component (TMF Open APIs, console) on API_PORT."""
        self._background("api", ["api", "--port", str(API_PORT)])

    def _background(self, name: str, args: list[str]) -> None:
        where = self.root / name
        where.mkdir(parents=True, exist_ok=True)
        pid_file = where / f"{name}.pid"
        if pid_file.exists() and labstate.pid_alive(int(pid_file.read_text())):
            return
        log = open(where / f"{name}.log", "ab")  # noqa: SIM115 - handed to child
        proc = subprocess.Popen(
            [sys.executable, "-m", "intentloop_operator", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**self._env(), "KUBECONFIG": str(self.cp.kubeconfig)},
        )
        log.close()
        pid_file.write_text(str(proc.pid))

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pending: list[str] = []
        while time.monotonic() < deadline:
            pending = self._not_ready()
            if not pending:
                return True
            time.sleep(1)
        print(f"not ready after {timeout:.0f}s: {', '.join(pending)}", file=sys.stderr)
        return False

    def _not_ready(self) -> list[str]:
        data = json.loads(self.kubectl("get", "networkservices,networkslices", "-A", "-o", "json"))
        return [
            f"{o['kind']}/{o['metadata']['name']}"
            for o in data["items"]
            if o.get("status", {}).get("phase") not in ("Ready", "Admitted")
        ]

    def _explain(self) -> None:
        kc = self.cp.kubeconfig
        print(
            "\nEverything is running. Explore with:\n"
            f"  export KUBECONFIG={kc}\n"
            f"  {self.kubectl_bin} get intentloop -A\n"
            f"  {self.kubectl_bin} describe networkservice -n tenant-a camera-uplink\n"
            f"TMF Open APIs and the console: http://127.0.0.1:{API_PORT}/console/ "
            "(README, Northbound)\n"
            "Fail a link and watch:  intentloop lab link down r1 r2 "
            f"--state-dir {self.lab_dir}\n"
            "Remove everything:      make demo-down",
            file=sys.stderr,
        )

    def down(self) -> int:
        for name in ("api", "operator"):
            pid_file = self.root / name / f"{name}.pid"
            if pid_file.exists():
                _kill(int(pid_file.read_text()))
                pid_file.unlink()
        lifecycle.stop(self.lab_dir)
        self.cp.down(purge=True)
        print("demo removed", file=sys.stderr)
        return 0


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    _wait(lambda: not labstate.pid_alive(pid), 15)
    if labstate.pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


def _wait(predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.1)


def _demo(args: argparse.Namespace) -> int:
    demo = Demo(_root())
    if args.action == "down":
        return demo.down()
    return demo.up(args.timeout)
