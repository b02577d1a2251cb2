"""`intentloop plan --down link/NAME --down device/NAME`: the blast radius, touching nothing.

Reads Devices, Links, NetworkSlices and NetworkServices (list calls only), rebuilds the
network the way the operator does at start-up (`Runtime.load`: the same topology, the same
reservations), and asks `intentloop_intents.blastradius` what the failure would do. Nothing
is written to the API server or sent to a device. The reader needs list rights on those
kinds cluster-wide (the platform team's view); a tenant sees only its own services anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

import kubernetes

from intentloop_intents import blastradius
from intentloop_intents.resources import GROUP, VERSION
from intentloop_operator.runtime import Runtime, service_owner

_MARK = {"protected": "ok", "moves": "ok", "unprotected": "!", "degraded": "SLA", "down": "DOWN"}


def parse_elements(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """`link/NAME` and `device/NAME` (or `links/`, `devices/`) into (links, devices)."""
    links: list[str] = []
    devices: list[str] = []
    for value in values:
        kind, _, name = value.partition("/")
        if not name or kind not in ("link", "links", "device", "devices"):
            raise ValueError(f"--down {value}: say link/NAME or device/NAME")
        (links if kind.startswith("link") else devices).append(name)
    return links, devices


def uses(rt: Runtime) -> list[blastradius.ServiceUse]:
    """Every realised service as the blast radius needs it."""
    found = []
    for owner, obj in sorted(rt.services.items()):
        spec, status = obj.get("spec", {}), obj.get("status", {})
        namespace, name = owner.split("/", 1)
        found.append(
            blastradius.ServiceUse(
                namespace=namespace,
                name=name,
                endpoints=tuple(dict.fromkeys(e["device"] for e in spec.get("endpoints", []))),
                path_links=tuple(status.get("pathLinks", [])),
                path_devices=tuple(status.get("path", [])),
                backup_links=tuple(status.get("backupPathLinks", [])),
                bandwidth_mbps=float(spec.get("bandwidthMbps", 0)),
                bound_ms=(spec.get("sla") or {}).get("maxLatencyMs"),
                owner=service_owner(namespace, name),
            )
        )
    return found


def load(api: Any) -> Runtime:
    def cluster(plural: str) -> list[dict[str, Any]]:
        return list(api.list_cluster_custom_object(GROUP, VERSION, plural)["items"])

    rt = Runtime()
    rt.load(
        devices=cluster("devices"),
        links=cluster("links"),
        device_configs=[],
        slices=cluster("networkslices"),
        services=cluster("networkservices"),
    )
    return rt


def report(result: blastradius.BlastRadius) -> dict[str, Any]:
    return {
        "down": {"links": list(result.links), "devices": list(result.devices)},
        "tenants": list(result.tenants),
        "services": [
            {
                "namespace": i.namespace,
                "name": i.name,
                "fate": i.fate,
                "detail": i.detail,
                "slaViolated": i.sla_violated,
                **({} if i.latency_ms is None else {"latencyMs": round(i.latency_ms, 3)}),
            }
            for i in result.impacts
        ],
        "slasViolated": len(result.slas_violated),
    }


def show(result: blastradius.BlastRadius) -> str:
    what = [f"link {n}" for n in result.links] + [f"device {n}" for n in result.devices]
    lines = [f"# if down: {', '.join(what)}"]
    lines.append(
        f"# {len(result.impacts)} service(s) of {len(result.tenants)} tenant(s) affected, "
        f"{len(result.slas_violated)} SLA(s) violated"
    )
    for i in result.impacts:
        lines.append(f"{_MARK[i.fate]:>4}  {i.namespace}/{i.name}: {i.fate} - {i.detail}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        links, devices = parse_elements(args.down)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    kubernetes.config.load_kube_config(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
    rt = load(kubernetes.client.CustomObjectsApi())
    try:
        result = blastradius.blast_radius(rt.topology, uses(rt), links=links, devices=devices)
    except blastradius.UnknownElement as e:
        print(f"--down: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report(result), indent=2) if args.output == "json" else show(result))
    return 1 if result.slas_violated else 0
