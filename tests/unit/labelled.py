"""`kube.list_selected` for in-memory stores: the objects whose labels match "k=v,..."."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def selected(objects: Iterable[dict[str, Any]], selector: str) -> list[dict[str, Any]]:
    wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
    return [
        o
        for o in objects
        if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
    ]
