"""`intentloop lab traffic ping|rate|gap`: traffic between two customer sites of the lab.

The pair is a NetworkService read from the cluster (`--service NS/NAME`: its first two
endpoints, each on the customer VLAN the operator holds at that port, untagged if none; the
sites of an l3vpn take an address in their own subnet and route to the other through their
gateway, the endpoint's `address`) or
given by hand (`--from r1/eth1 --to r4/eth1 [--vlan N]`). One line of result; exit code 0 when the
traffic did what a working service does (reachable; flowing at the end of a gap stream).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, cast

from intentloop_lab import labstate, traffic
from intentloop_lab.labstate import LabState
from intentloop_lab.traffic import Attachment, Endpoint, TrafficError

GROUP, VERSION = "intentloop.io", "v1alpha1"
Args = argparse.Namespace


def attachments(
    state: LabState, endpoints: list[dict[str, Any]], vlan: int | None
) -> tuple[Attachment, Attachment]:
    """The sites behind a service's first two endpoints, on the service's VLAN (or on the
    endpoint's own `vlan`, where an endpoint names one)."""
    if len(endpoints) < 2:
        raise TrafficError("a service needs two endpoints to send traffic between")
    found = []
    for ep in endpoints[:2]:
        try:
            site = state.site(ep["device"], ep["interface"])
        except KeyError as exc:
            raise TrafficError(str(exc.args[0])) from None
        found.append(Attachment(site, ep.get("vlan", vlan)))
    return found[0], found[1]


def service_attachments(state: LabState, service: dict[str, Any]) -> tuple[Attachment, Attachment]:
    """A NetworkService body → its two attachments, each on the customer VLAN the operator
    holds at that port (status.allocated.endpoints; an older status's one `vlan`)."""
    allocated = (service.get("status") or {}).get("allocated") or {}
    held = allocated.get("endpoints")
    if held:
        return attachments(state, list(held), None)
    return attachments(state, service["spec"]["endpoints"], allocated.get("vlan"))


def service_gateways(service: dict[str, Any]) -> tuple[str, str] | None:
    """An l3vpn's first two endpoints' gateways (their `address`); None for an L2 service."""
    spec = service.get("spec") or {}
    if spec.get("type") != "l3vpn":
        return None
    ends = spec.get("endpoints") or []
    gateways = [e.get("address") for e in ends[:2]]
    if len(gateways) < 2 or not all(gateways):
        raise TrafficError("an l3vpn's endpoints need their addresses to route between sites")
    return gateways[0], gateways[1]


def read_service(kubeconfig: str | None, ref: str) -> dict[str, Any]:
    """GET the NetworkService `NS/NAME` from the cluster."""
    import kubernetes

    namespace, sep, name = ref.partition("/")
    if not sep or not namespace or not name:
        raise TrafficError(f"--service: {ref!r} is not NAMESPACE/NAME")
    try:
        api = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise TrafficError(f"cannot use the kubeconfig: {exc}") from None
    custom = kubernetes.client.CustomObjectsApi(api)
    try:
        body = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "networkservices", name
        )
    except kubernetes.client.ApiException as exc:
        raise TrafficError(f"NetworkService {ref}: {exc.reason} ({exc.status})") from None
    finally:
        api.close()
    return cast(dict[str, Any], body)


def _port(text: str, flag: str) -> dict[str, str]:
    device, sep, port = text.partition("/")
    if not sep or not device or not port:
        raise TrafficError(f"{flag}: {text!r} is not ROUTER/PORT (e.g. r1/eth1)")
    return {"device": device, "interface": port}


Pair = tuple[Attachment, Attachment, tuple[str, str] | None]
Ends = tuple[Endpoint, Endpoint]


def _pair(args: Args, state: LabState) -> Pair:
    """The two sites, and their gateways when the service routes (l3vpn)."""
    if args.service:
        if args.source or args.dest or args.vlan is not None:
            raise TrafficError("give either --service or --from/--to/--vlan, not both")
        service = read_service(args.kubeconfig, args.service)
        return (*service_attachments(state, service), service_gateways(service))
    if not (args.source and args.dest):
        raise TrafficError("say which sites: --service NS/NAME, or --from and --to")
    eps = [_port(args.source, "--from"), _port(args.dest, "--to")]
    try:
        return (*attachments(state, eps, args.vlan), None)
    except ValueError as exc:
        raise TrafficError(str(exc)) from None


def attach_service(state: LabState, service: dict[str, Any]) -> AbstractContextManager[Ends]:
    """A NetworkService's first two sites configured for traffic (routed for an l3vpn)."""
    return attached(*service_attachments(state, service), service_gateways(service))


@contextlib.contextmanager
def attached(a: Attachment, b: Attachment, gateways: tuple[str, str] | None) -> Iterator[Ends]:
    """Two sites on one L2 subnet, or (`gateways`) each in its own subnet, routed."""
    if gateways is None:
        with traffic.attach(a, b) as ends:
            yield ends
        return
    with traffic.attach_routed([(a, gateways[0]), (b, gateways[1])]) as (ea, eb):
        yield ea, eb


def _ping(a: Endpoint, b: Endpoint, args: Args) -> tuple[bool, str]:
    result = traffic.ping(a, b.ip, count=args.count, timeout=args.timeout)
    return result.reachable, result.summary()


def _rate(a: Endpoint, b: Endpoint, args: Args) -> tuple[bool, str]:
    from intentloop_lab.traffic_iperf import rate

    result = rate(a, b, mbps=args.mbps, seconds=args.seconds, warmup=args.warmup)
    return result.delivered_mbps > 0, result.summary()


def _gap(a: Endpoint, b: Endpoint, args: Args) -> tuple[bool, str]:
    import time

    from intentloop_lab.traffic_gap import GapStream

    stream = GapStream(a, b, pps=args.pps, max_seconds=args.seconds + 30)
    stream.start(flowing_within=None)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the window early
        time.sleep(args.seconds)  # the measurement window the user asked for
    result = stream.stop()
    return result.restored, result.summary()


MEASURES: dict[str, Callable[[Endpoint, Endpoint, Args], tuple[bool, str]]] = {
    "ping": _ping,
    "rate": _rate,
    "gap": _gap,
}


def cmd_traffic(args: Args) -> int:
    state_dir = (args.state_dir or labstate.default_state_dir()).absolute()
    state = labstate.read_state(state_dir)
    if state is None:
        print(f"error: no lab running in {state_dir} (try `intentloop lab up`)", file=sys.stderr)
        return 3
    try:
        a, b, gateways = _pair(args, state)
        if os.geteuid() != 0:
            raise TrafficError("traffic enters the lab's network namespaces: run as root")
        with attached(a, b, gateways) as (ea, eb):
            ok, line = MEASURES[args.traffic_command](ea, eb, args)
    except (TrafficError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.traffic_command} {a} -> {b}: {line}")
    return 0 if ok else 1


def register(
    lab_sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add `traffic ping|rate|gap` under `intentloop lab`."""
    pair = argparse.ArgumentParser(add_help=False, parents=[common])
    pair.add_argument("--service", metavar="NS/NAME", help="a NetworkService's two sites")
    pair.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    pair.add_argument("--from", dest="source", metavar="ROUTER/PORT", help="sending site")
    pair.add_argument("--to", dest="dest", metavar="ROUTER/PORT", help="receiving site")
    pair.add_argument("--vlan", type=int, default=None, help="the service VLAN (default: none)")
    top = lab_sub.add_parser("traffic", help="send traffic between two customer sites")
    sub = top.add_subparsers(dest="traffic_command", required=True)
    p = sub.add_parser("ping", parents=[pair], help="reachability: echo requests, loss %")
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for a reply")
    r = sub.add_parser("rate", parents=[pair], help="UDP at a set rate (iperf3): delivered")
    r.add_argument("--mbps", type=float, default=10.0, help="rate to offer, Mbit/s")
    r.add_argument("--seconds", type=float, default=3.0)
    r.add_argument("--warmup", type=float, default=0.0, help="seconds left out of the steady rate")
    g = sub.add_parser("gap", parents=[pair], help="a probe stream: the longest interruption")
    g.add_argument("--pps", type=int, default=1000, help="probe packets per second")
    g.add_argument("--seconds", type=float, default=10.0, help="how long to stream")
    for parser in (p, r, g):
        parser.set_defaults(func=cmd_traffic)
