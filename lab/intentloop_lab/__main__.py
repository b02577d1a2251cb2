"""`python -m intentloop_lab lab ...`: the lab's commands without the operator's CLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from intentloop_lab import cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intentloop")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
