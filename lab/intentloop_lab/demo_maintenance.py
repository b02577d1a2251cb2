"""The demo's planned maintenance: a link taken out of service without waiting for it to
fail. The services on it are drained before the window opens, with the traffic gap each
one sees at its customer sites, and the Maintenance lists what it drained."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from intentloop_lab import demo_traffic
from intentloop_lab.labstate import LabState

Wait = Callable[[Callable[[], bool], float], None]
NAME = "demo-maintenance"


def _busiest(services: list[dict[str, Any]]) -> str | None:
    counts: dict[str, int] = {}
    for o in services:
        for link in o.get("status", {}).get("pathLinks", []):
            counts[link] = counts.get(link, 0) + 1
    return max(sorted(counts), key=lambda k: counts[k]) if counts else None


def _window(link: str) -> str:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
    return json.dumps(
        {
            "apiVersion": "intentloop.io/v1alpha1",
            "kind": "Maintenance",
            "metadata": {"name": NAME},
            "spec": {
                "target": {"kind": "Link", "name": link},
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=10)).isoformat(),
                "drainBeforeS": 18,
                "reason": "intentloop demo: planned work on the busiest link",
            },
        }
    )


def _settled(
    kubectl: Callable[..., str],
    services: Callable[[], list[dict[str, Any]]],
    link: str,
    names: set[str],
) -> bool:
    """Every service that was on `link` is off it, or listed as one that cannot move."""
    status = json.loads(kubectl("get", "maintenance", NAME, "-o", "json")).get("status", {})
    stuck = {c["service"]["name"] for c in status.get("cannotMove", [])}
    for o in services():
        name, st = o["metadata"]["name"], o.get("status", {})
        on = st.get("phase") != "Ready" or link in st.get("pathLinks", [])
        if name in names and on and name not in stuck:
            return False
    return bool(status.get("phase"))


def scene(
    kubectl: Callable[..., str],
    services: Callable[[], list[dict[str, Any]]],
    lab: LabState,
    wait: Wait,
) -> None:
    """Drain the busiest link of services that can move, show the gaps and the status."""
    movable = [o for o in services() if not o["spec"].get("sliceRef")]
    link = _busiest(movable)
    if link is None:
        return
    moving = [o for o in movable if link in o.get("status", {}).get("pathLinks", [])]
    with demo_traffic.watching(lab, moving) as watch:
        print(f"==> planned maintenance of link {link}: drained before it opens", file=sys.stderr)
        started = time.monotonic()
        kubectl("apply", "-f", "-", input=_window(link))
        names = {o["metadata"]["name"] for o in moving}
        wait(lambda: _settled(kubectl, services, link, names), 60)
        print(f"    done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
        if watch is not None:
            watch.report(wait)
    columns = (
        "NAME:.metadata.name,TARGET:.spec.target.name,PHASE:.status.phase,"
        "DRAINED:.status.drained[*].name,CANNOT-MOVE:.status.cannotMove[*].service.name,"
        "WHY:.status.cannotMove[*].reason"
    )
    print(kubectl("get", "maintenances", "-o", f"custom-columns={columns}"))
    kubectl("delete", "maintenance", NAME)
