"""`intentloop lab ...`: bring the lab network up and down, break it, describe it.

`up` starts the lab daemon detached and returns once every router answers; the other
commands talk to the daemon over its control socket or read its `lab.json`. Each subcommand
is a function `args -> exit code`; errors are one line a person can act on, never a trace.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from intentloop_lab import control, inventory, labstate, lifecycle, traffic_cli
from intentloop_lab.topology import load_topology

NOT_RUNNING = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `lab` and its subcommands to the `intentloop` command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the lab keeps its files (default: $INTENTLOOP_STATE_DIR/lab "
        "or ~/.local/state/intentloop/lab)",
    )
    lab = subparsers.add_parser("lab", help="the lab network: routers, links, faults")
    sub = lab.add_subparsers(dest="lab_command", required=True)

    up = sub.add_parser("up", parents=[common], help="start the lab and wait until it answers")
    up.add_argument(
        "--topology", type=Path, default=None, help="topology YAML (default: 6 routers)"
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", parents=[common], help="stop every router").set_defaults(func=cmd_down)
    status = sub.add_parser("status", parents=[common], help="routers and links, as a table")
    status.add_argument("--json", action="store_true", help="the daemon's answer as JSON")
    status.set_defaults(func=cmd_status)

    link = sub.add_parser("link", help="fail, repair or slow down a link")
    link_sub = link.add_subparsers(dest="link_command", required=True)
    for action in ("down", "up"):
        p = link_sub.add_parser(action, parents=[common], help=f"bring link A-B {action}")
        p.add_argument("a")
        p.add_argument("b")
        p.set_defaults(func=cmd_link_admin, up=action == "up")
    latency = link_sub.add_parser(
        "latency", parents=[common], help="add MS milliseconds to link A-B (0 clears)"
    )
    latency.add_argument("a")
    latency.add_argument("b")
    latency.add_argument("ms", type=float)
    latency.set_defaults(func=cmd_link_latency)

    device = sub.add_parser(
        "device",
        parents=[common],
        help="stop or start a router, tamper with its config, or make it reject the next commit",
    )
    device.add_argument("action", choices=["stop", "start", "tamper", "reject"])
    device.add_argument("router")
    device.set_defaults(func=cmd_device)

    inv = sub.add_parser(
        "inventory", parents=[common], help="Device/Link/Secret YAML for kubectl apply -f -"
    )
    inv.add_argument("--namespace", default=inventory.DEFAULT_NAMESPACE)
    inv.set_defaults(func=cmd_inventory)
    traffic_cli.register(sub, common)


def state_dir_of(args: argparse.Namespace) -> Path:
    given: Path | None = getattr(args, "state_dir", None)
    return (given or labstate.default_state_dir()).absolute()


# --- up / down ----------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args)
    topology: Path | None = args.topology
    if topology is not None:
        try:
            load_topology(topology)  # refuse a bad file here, with its message, not in a log
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        topology = topology.absolute()
    started = time.monotonic()
    try:
        fresh = lifecycle.start(state_dir, topology)
    except lifecycle.LabStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"(the daemon's log: {state_dir / labstate.LOG_FILE})", file=sys.stderr)
        return 1
    if not fresh:
        print(f"lab already up in {state_dir}", file=sys.stderr)
        return 0
    print(f"lab up in {time.monotonic() - started:.1f}s; state in {state_dir}", file=sys.stderr)
    return cmd_status(argparse.Namespace(state_dir=state_dir, json=False))


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = state_dir_of(args)
    if not lifecycle.stop(state_dir):
        print(f"no lab running in {state_dir}", file=sys.stderr)
        return 0
    print(f"lab down; log kept in {state_dir / labstate.LOG_FILE}", file=sys.stderr)
    return 0


# --- talking to the daemon ----------------------------------------------------------------
def _call(args: argparse.Namespace, request: Any) -> Any:
    state_dir = state_dir_of(args)
    state = labstate.read_state(state_dir)
    if state is None:
        raise control.ControlError(f"no lab running in {state_dir} (try `intentloop lab up`)")
    return control.call(state.socket, request)


def _run(args: argparse.Namespace, request: Any) -> int:
    try:
        result = _call(args, request)
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


def cmd_link_admin(args: argparse.Namespace) -> int:
    return _run(args, control.LinkAdmin(a=args.a, b=args.b, up=args.up))


def cmd_link_latency(args: argparse.Namespace) -> int:
    if args.ms < 0:
        print("error: latency to add must be >= 0 ms", file=sys.stderr)
        return 2
    return _run(args, control.LinkLatency(a=args.a, b=args.b, extra_ms=args.ms))


def cmd_device(args: argparse.Namespace) -> int:
    return _run(args, control.DeviceAction(action=args.action, router=args.router))


def cmd_status(args: argparse.Namespace) -> int:
    try:
        result = _call(args, control.Status())
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return NOT_RUNNING
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(format_status(result))
    return 0


def cmd_inventory(args: argparse.Namespace) -> int:
    state = labstate.read_state(state_dir_of(args))
    if state is None:
        print(f"error: no lab running in {state_dir_of(args)}", file=sys.stderr)
        return NOT_RUNNING
    sys.stdout.write(inventory.render(state, namespace=args.namespace))
    return 0


def format_status(result: dict[str, Any]) -> str:
    """Two aligned tables: routers (ports, up/down), then links (state, latency, load)."""
    rows = [["ROUTER", "PLATFORM", "NETCONF", "GNMI", "STATE"]]
    for r in result["routers"]:
        rows.append(
            [
                r["name"],
                r["platform"],
                str(r["netconf_port"] or "-"),
                str(r["gnmi_port"] or "-"),
                "up" if r["running"] else "STOPPED",
            ]
        )
    links = [["LINK", "STATE", "LATENCY", "UTILISATION"]]
    for s in result["links"]:
        state = "up" if s["oper_up"] else ("DOWN (admin)" if not s["admin_up"] else "DOWN")
        latency = f"{s['latency_ms']:g} ms"
        if s["injected_latency_ms"]:
            latency += f" (+{s['injected_latency_ms']:g} injected)"
        share = 100.0 * s["utilisation_mbps"] / s["capacity_mbps"]
        util = f"{s['utilisation_mbps']:g}/{s['capacity_mbps']} Mbps ({share:.0f}%)"
        links.append([s["name"], state, latency, util])
    return f"lab {result['topology']}\n\n{_table(rows)}\n\n{_table(links)}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
