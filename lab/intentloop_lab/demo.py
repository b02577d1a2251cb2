"""`intentloop demo`: the whole thing on one machine (filled in as capabilities land)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="control plane + lab + operator + example intents")
    demo.add_argument("action", nargs="?", default="up", choices=["up", "down"])
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    raise SystemExit("demo: not yet")
