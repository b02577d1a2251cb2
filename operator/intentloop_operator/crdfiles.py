"""Write and check `crds/`: the YAML form of the CRDs generated from the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from intentloop_intents import crdgen

HEADER = "# Generated from the models in intents/ by `make crds`. Do not edit.\n"


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(crd: dict[str, Any]) -> str:
    return HEADER + yaml.dump(crd, Dumper=_NoAliases, sort_keys=False, width=100)


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = crdgen.all_crds()
    written = []
    for name, crd in wanted.items():
        path = directory / name
        path.write_text(render(crd))
        written.append(path)
    for stale in directory.glob("intentloop.io_*.yaml"):
        if stale.name not in wanted:
            stale.unlink()
    kustomization = directory / "kustomization.yaml"
    kustomization.write_text(
        HEADER
        + yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": sorted(wanted),
            },
            sort_keys=False,
        )
    )
    return [*written, kustomization]


def check(directory: Path) -> list[str]:
    """What differs between `directory` and the CRDs the models generate (empty: in step)."""
    problems = []
    wanted = crdgen.all_crds()
    for name, crd in wanted.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text() != render(crd):
            problems.append(f"{path}: differs from the models")
    for present in directory.glob("intentloop.io_*.yaml"):
        if present.name not in wanted:
            problems.append(f"{present}: no model generates it")
    return problems


def load_all() -> list[dict[str, Any]]:
    return list(crdgen.all_crds().values())
