"""Validate OpenConfig payloads with libyang's `yanglint` against the published modules.

The modules are not in this repository: they are read from `../shared/openconfig` beside
the checkout (or a parent's), or from `$INTENTLOOP_OPENCONFIG_MODELS`. `yanglint` comes
from Debian's `libyang2-tools` (`make system-deps`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = (
    "release/models/interfaces/openconfig-interfaces.yang",
    "release/models/interfaces/openconfig-if-ip.yang",
    "release/models/vlan/openconfig-vlan.yang",
    "third_party/ietf/iana-if-type.yang",
    "release/models/network-instance/openconfig-network-instance.yang",
    "release/models/network-instance/openconfig-network-instance-types.yang",
    "release/models/policy/openconfig-policy-types.yang",
    "release/models/qos/openconfig-qos.yang",
    "release/models/qos/openconfig-qos-types.yang",
    "release/models/policy/openconfig-routing-policy.yang",
    "release/models/bgp/openconfig-bgp-policy.yang",
)


@cache
def models_dir() -> Path | None:
    override = os.environ.get("INTENTLOOP_OPENCONFIG_MODELS")
    candidates = [Path(override)] if override else []
    candidates += [p / "shared" / "openconfig" for p in (ROOT.parent, ROOT.parent.parent)]
    return next((p for p in candidates if (p / MODULES[0]).is_file()), None)


def yanglint_or_skip() -> tuple[str, Path]:
    where = models_dir()
    if where is None:
        pytest.skip("the published OpenConfig modules (../shared/openconfig) are not here")
    binary = shutil.which("yanglint")
    if binary is None:
        pytest.fail("yanglint is missing: install Debian libyang2-tools (make system-deps)")
    return binary, where


def yanglint(documents: Sequence[Mapping[str, Any]], tmp: Path) -> subprocess.CompletedProcess[str]:
    """One yanglint run validating each document on its own (as `config` data)."""
    binary, where = yanglint_or_skip()
    files = []
    for index, document in enumerate(documents):
        path = tmp / f"doc{index}.json"
        path.write_text(json.dumps(document))
        files.append(str(path))
    search = [arg for d in sorted(_dirs(where)) for arg in ("-p", d)]
    return subprocess.run(
        [binary, "-i", *search, "-t", "config", *MODULES, *files],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )


def errors(done: subprocess.CompletedProcess[str]) -> str:
    """yanglint's errors without libyang's warnings about the modules themselves."""
    lines = (done.stdout + done.stderr).splitlines()
    return "\n".join(line for line in lines if not line.startswith("libyang warn"))


@cache
def _dirs(where: Path) -> tuple[str, ...]:
    return tuple(
        str(p.relative_to(where))
        for top in ("release/models", "third_party")
        for p in [where / top, *(where / top).rglob("*")]
        if p.is_dir()
    )
