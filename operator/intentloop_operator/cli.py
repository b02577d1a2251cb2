"""`intentloop` — the command line: control plane, CRDs, operator, lab and demo.

Every subcommand is a small function taking the parsed arguments and returning an exit
code; the lab and the local control plane are imported lazily (they are development tools,
not part of the operator a cluster runs).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from intentloop_operator import crdfiles, plancli, topology_render


def _cluster(args: argparse.Namespace) -> int:
    from intentloop_lab import controlplane

    cp = controlplane.ControlPlane(Path(args.state_dir) if args.state_dir else None)
    if args.action == "up":
        started = cp.up()
        print(f"control plane ready at {started.server}", file=sys.stderr)
        print(f"kubectl --kubeconfig {cp.kubeconfig} get ns", file=sys.stderr)
    elif args.action == "down":
        cp.down(purge=args.purge)
    elif args.action == "status":
        st = cp.state()
        running = cp.is_running()
        print(f"state dir: {cp.dir}")
        print(f"running:   {running}")
        if st is not None:
            print(f"server:    {st.server}")
            for name, pid in st.pids.items():
                print(f"  {name:<24} pid {pid}")
        return 0 if running else 3
    elif args.action == "kubeconfig":
        print(cp.kubeconfig)
    elif args.action == "env":
        return _print_env(cp)
    return 0


def _print_env(cp: Any) -> int:
    """Lines for `eval`: the cluster's kubeconfig and its kubectl first on PATH."""
    st = cp.state()
    if st is None:
        print("no local control plane: run `intentloop cluster up` first", file=sys.stderr)
        return 3
    print(f"export KUBECONFIG={shlex.quote(str(cp.kubeconfig))}")
    print(f'export PATH={shlex.quote(st.bin_dir)}:"$PATH"')
    return 0


def _crds(args: argparse.Namespace) -> int:
    if args.action == "generate":
        for path in crdfiles.write(Path(args.out)):
            print(path)
        return 0
    problems = crdfiles.check(Path(args.dir))
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("crds/ disagrees with the models: run `make crds`", file=sys.stderr)
        return 1
    print(f"{args.dir}: in step with the models")
    return 0


def _operator(args: argparse.Namespace) -> int:
    from intentloop_operator import running

    if args.collectors < 0:
        print("--collectors must be 0 (in-process) or more", file=sys.stderr)
        return 2
    # Read by the start-up handler that builds the runtime (`watching.load_runtime`).
    os.environ["INTENTLOOP_COLLECTORS"] = str(args.collectors)
    return running.run(
        kubeconfig=args.kubeconfig,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        peering=args.peering,
        priority=args.priority,
    )


def _api(args: argparse.Namespace) -> int:
    from intentloop_api import app

    context = app.tls(args.tls_cert_file, args.tls_private_key_file, args.client_ca_file)
    return app.serve(
        kubeconfig=args.kubeconfig, host=args.host, port=args.port, ssl_context=context
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intentloop", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    cluster = sub.add_parser("cluster", help="the local Kubernetes control plane")
    cluster.add_argument("action", choices=["up", "down", "status", "kubeconfig", "env"])
    cluster.add_argument("--purge", action="store_true", help="down: also remove all state")
    cluster.add_argument("--state-dir", default=None)
    cluster.set_defaults(func=_cluster)

    crds = sub.add_parser("crds", help="CustomResourceDefinitions generated from the models")
    crds.add_argument("action", choices=["generate", "check"])
    crds.add_argument("--out", default="crds")
    crds.add_argument("--dir", default="crds")
    crds.set_defaults(func=_crds)

    op = sub.add_parser("operator", help="run the operator against the configured cluster")
    op.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    op.add_argument("--metrics-port", type=int, default=8080)
    op.add_argument(
        "--metrics-host", default="127.0.0.1", help="0.0.0.0 in a pod, so probes can reach it"
    )
    op.add_argument(
        "--priority", type=int, default=None, help="HA: peers with lower priority stand by"
    )
    op.add_argument("--peering", default=None, help="kopf peering name (HA); default: none")
    op.add_argument(
        "--collectors",
        type=int,
        default=int(os.environ.get("INTENTLOOP_COLLECTORS") or 0),
        help="telemetry collector processes, devices split across them (0: in-process)",
    )
    op.set_defaults(func=_operator)

    api = sub.add_parser("api", help="the northbound component: TMF Open APIs and the console")
    api.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    api.add_argument("--port", type=int, default=8443)
    api.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a pod")
    api.add_argument("--tls-cert-file", default=None, help="serve HTTPS with this certificate")
    api.add_argument("--tls-private-key-file", default=None)
    api.add_argument(
        "--client-ca-file", default=None, help="accept client certificates signed by this CA"
    )
    api.set_defaults(func=_api)

    plancli.register(sub)
    topology_render.register(sub)
    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The lab and the demo are development tools: present when their package is installed."""
    try:
        from intentloop_lab import cli as lab_cli
    except ImportError:  # pragma: no cover - the lab is optional in a deployed operator
        return
    from intentloop_lab import demo

    lab_cli.register(sub)
    demo.register(sub)


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    raise SystemExit(args.func(args))
