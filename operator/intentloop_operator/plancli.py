"""`intentloop plan -f service.yaml`: show per-device native diffs, touch no device.
`intentloop plan --down link/NAME`: the blast radius of a failure (see `whatif`).

Creates a dry-run Transaction carrying the file's NetworkService spec, waits for the
operator to plan it, prints what each device would receive, and deletes the Transaction.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

import kubernetes
import yaml

from intentloop_intents.resources import API_VERSION, GROUP, VERSION
from intentloop_operator import whatif


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan", help="dry run: per-device diffs of a NetworkService, or a failure's blast radius"
    )
    p.add_argument("-f", "--filename", help="NetworkService(s) to plan")
    p.add_argument(
        "--down",
        action="append",
        default=[],
        metavar="link/NAME|device/NAME",
        help="what if this went down: services, tenants and SLAs affected (repeatable)",
    )
    p.add_argument("-o", "--output", choices=("text", "json"), default="text")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--timeout", type=float, default=60.0)
    p.set_defaults(func=run)


def _wait(api: Any, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj: dict[str, Any] = api.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "transactions", name
        )
        if obj.get("status", {}).get("phase") in ("Planned", "Failed", "NoChange"):
            return obj
        time.sleep(0.2)
    raise TimeoutError(f"the operator did not plan {namespace}/{name} within {timeout:.0f}s")


def run(args: argparse.Namespace) -> int:
    if args.down:
        return whatif.run(args)
    if not args.filename:
        print("plan: give -f FILE (a NetworkService) or --down link/NAME", file=sys.stderr)
        return 2
    with open(args.filename) as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "NetworkService"]
    if not docs:
        print(f"{args.filename}: no NetworkService in it", file=sys.stderr)
        return 2
    kubernetes.config.load_kube_config(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
    api = kubernetes.client.CustomObjectsApi()
    status = 0
    for doc in docs:
        meta = doc["metadata"]
        namespace = meta.get("namespace", "default")
        name = f"plan-{meta['name'][:40]}-{uuid.uuid4().hex[:6]}"
        body = {
            "apiVersion": API_VERSION,
            "kind": "Transaction",
            "metadata": {"name": name},
            "spec": {
                "dryRun": True,
                "intentRef": {
                    "kind": "NetworkService",
                    "name": meta["name"],
                    "namespace": namespace,
                },
                "plannedService": doc["spec"],
            },
        }
        api.create_namespaced_custom_object(GROUP, VERSION, namespace, "transactions", body)
        try:
            result = _wait(api, namespace, name, args.timeout)
        finally:
            api.delete_namespaced_custom_object(GROUP, VERSION, namespace, "transactions", name)
        status |= _show(namespace, meta["name"], result.get("status", {}))
    return status


def _show(namespace: str, name: str, st: dict[str, Any]) -> int:
    print(f"# NetworkService {namespace}/{name}: {st.get('phase')} — {st.get('message', '')}")
    for device in st.get("devices", []):
        diff = device.get("diff") or "(no change)"
        print(f"## {device['device']}\n{diff}\n")
    return 0 if st.get("phase") == "Planned" else 1
