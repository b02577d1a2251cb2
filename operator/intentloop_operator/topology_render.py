"""`intentloop topology render`: the network a cluster manages, as one SVG picture.

Reads Devices, Links, NetworkServices and Alarms once, maps them to the renderer's plain
inputs and writes the picture. Why the mapping tolerates anything missing: the picture is
most wanted when things are half-broken — a Link whose status nobody has written yet, an
Alarm without a root cause, a service still Pending — and a picture with grey "unknown"
parts beats an exception.

The official client is imported when the command runs, not when the CLI starts, so
`intentloop --help` stays quick.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from intentloop_intents import rendering

GROUP, VERSION = "intentloop.io", "v1alpha1"
_T = TypeVar("_T")
_PAGE = 500
_TIMEOUT_S = 15


class ClusterUnavailable(Exception):
    """The API server cannot be reached or does not serve the kinds; says what to do."""


def render_from_cluster(*, kubeconfig: str | None, title: str | None = None) -> str:
    """The SVG of what the cluster knows now (timestamped with the time of reading)."""
    api = _custom_objects_api(kubeconfig)
    objects = {plural: _list_all(api, plural) for plural in _PLURALS}
    view = network_view(**objects)
    return rendering.render_svg(
        view, generated_at=datetime.now(UTC), title=title or "intentloop — network"
    )


_PLURALS = ("devices", "links", "networkservices", "alarms")


def network_view(
    *,
    devices: Sequence[Mapping[str, Any]],
    links: Sequence[Mapping[str, Any]],
    networkservices: Sequence[Mapping[str, Any]],
    alarms: Sequence[Mapping[str, Any]],
) -> rendering.NetworkView:
    """Raw Kubernetes objects to the renderer's input; objects without a name are skipped."""
    return rendering.NetworkView(
        devices=_each(devices, _device),
        links=_each(links, _link),
        services=_each(networkservices, _service),
        alarms=_each(alarms, _alarm),
    )


def _each(
    objs: Sequence[Mapping[str, Any]], fn: Callable[[Mapping[str, Any]], _T | None]
) -> list[_T]:
    return [v for v in (fn(o) for o in objs if isinstance(o, Mapping)) if v is not None]


def _parts(obj: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any], Mapping[str, Any]]:
    meta, spec, status = (_map(obj.get(k)) for k in ("metadata", "spec", "status"))
    return _str(meta.get("name")), _str(meta.get("namespace")), spec, status


def _device(obj: Mapping[str, Any]) -> rendering.DeviceView | None:
    name, _, spec, status = _parts(obj)
    reachable = status.get("reachable")
    if not name:
        return None
    return rendering.DeviceView(
        name=name,
        role=_str(spec.get("role")),
        site=_str(spec.get("site")),
        reachable=reachable if isinstance(reachable, bool) else None,
    )


def _link(obj: Mapping[str, Any]) -> rendering.LinkView | None:
    name, _, spec, status = _parts(obj)
    a, b = _str(_map(spec.get("a")).get("device")), _str(_map(spec.get("b")).get("device"))
    if not (name and a and b):
        return None
    measured = _num(status.get("measuredLatencyMs"))
    return rendering.LinkView(
        name=name,
        a=a,
        b=b,
        capacity_mbps=_num(spec.get("capacityMbps")) or 0.0,
        reserved_mbps=_num(status.get("reservedMbps")) or 0.0,
        utilisation_mbps=_num(status.get("utilisationMbps")),
        oper_state=_str(status.get("operState")) or "unknown",
        # Nominal latency until telemetry measured one: what the Link says about itself.
        latency_ms=measured if measured is not None else _num(spec.get("latencyMs")),
    )


def _service(obj: Mapping[str, Any]) -> rendering.ServiceView | None:
    name, namespace, _, status = _parts(obj)
    if not name:
        return None
    return rendering.ServiceView(
        name=f"{namespace}/{name}" if namespace else name,
        phase=_str(status.get("phase")),
        path=_strs(status.get("path")),
        path_links=_strs(status.get("pathLinks")),
        backup_links=_strs(status.get("backupPathLinks")),
    )


def _alarm(obj: Mapping[str, Any]) -> rendering.AlarmView | None:
    name, namespace, _, status = _parts(obj)
    if not name:
        return None
    root = _map(status.get("rootCauseRef"))
    root_key = f"{_str(root.get('namespace')) or namespace}/{_str(root.get('name'))}"
    source = _map(status.get("source"))
    return rendering.AlarmView(
        key=f"{namespace}/{name}",
        severity=_str(status.get("perceivedSeverity")) or "indeterminate",
        source=_source_name(source) or name,
        probable_cause=_str(status.get("probableCause")),
        active=_str(status.get("state")) != "cleared",
        is_root_cause=status.get("isRootCause") is True,
        root_cause=root_key if root.get("name") else None,
    )


def _source_name(ref: Mapping[str, Any]) -> str:
    """Devices and Links are cluster-scoped, so their bare name matches the map."""
    name, namespace = _str(ref.get("name")), _str(ref.get("namespace"))
    return f"{namespace}/{name}" if name and namespace else name


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(s for s in v if isinstance(s, str)) if isinstance(v, list) else ()


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


# Kubernetes I/O.


def _custom_objects_api(kubeconfig: str | None) -> Any:
    import kubernetes

    configuration = kubernetes.client.Configuration()
    # Read KUBECONFIG now: the client library reads it only once, at import.
    path = kubeconfig or os.environ.get("KUBECONFIG")
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, client_configuration=configuration
        )
    except (kubernetes.config.ConfigException, OSError) as e:
        if path is not None:
            raise ClusterUnavailable(f"cannot use kubeconfig {path}: {e}") from None
        try:  # no kubeconfig at all: perhaps this runs in a pod
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        except kubernetes.config.ConfigException:
            raise ClusterUnavailable("no kubeconfig: pass --kubeconfig or set KUBECONFIG") from e
    return kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(configuration))


def _list_all(api: Any, plural: str) -> list[Mapping[str, Any]]:
    """Every object of a kind in every namespace, a page at a time."""
    import kubernetes
    import urllib3

    items: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = api.list_cluster_custom_object(
                GROUP, VERSION, plural, limit=_PAGE, _continue=token, _request_timeout=_TIMEOUT_S
            )
        except kubernetes.client.ApiException as e:
            raise ClusterUnavailable(_api_problem(plural, e.status, e.reason)) from None
        except urllib3.exceptions.HTTPError as e:
            host = api.api_client.configuration.host
            raise ClusterUnavailable(f"cannot reach the API server at {host}: {e}") from None
        items.extend(page.get("items") or [])
        token = _map(page.get("metadata")).get("continue") or None
        if token is None:
            return items


def _api_problem(plural: str, status: int | None, reason: str | None) -> str:
    if status == 404:
        return f"{plural}.{GROUP} is not served: install the CRDs (kubectl apply -f crds/)"
    if status in (401, 403):
        return f"not allowed to list {plural}.{GROUP} ({reason}): check your credentials and RBAC"
    return f"listing {plural}.{GROUP} failed: {status} {reason}"


# The command line.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topology = sub.add_parser("topology", help="the managed network as a picture")
    actions = topology.add_subparsers(dest="action", required=True)
    render = actions.add_parser(
        "render", help="write an SVG: devices, links by state and load, paths, active alarms"
    )
    render.add_argument("-o", "--output", default="topology.svg", help="file, or - for stdout")
    render.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    render.add_argument("--title", default=None, help='e.g. "after r1-r4 failed"')
    render.set_defaults(func=_render)


def _render(args: argparse.Namespace) -> int:
    try:
        svg = render_from_cluster(kubeconfig=args.kubeconfig, title=args.title)
    except ClusterUnavailable as e:
        print(f"topology render: {e}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(svg)
        return 0
    _write_atomically(Path(args.output), svg)
    print(args.output)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """A viewer refreshing the file never sees half a picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
