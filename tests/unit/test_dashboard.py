"""The Grafana dashboard only queries metrics the operator actually exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from intentloop_operator import metrics

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "manifests" / "observability" / "grafana-dashboard.json"
)


def test_every_queried_metric_is_registered_and_every_metric_is_shown() -> None:
    from prometheus_client import REGISTRY

    assert metrics.RECONCILE_SECONDS is not None  # importing the module registered them
    exported = {
        f.name + ("_total" if f.type == "counter" else "")
        for f in REGISTRY.collect()
        if f.name.startswith("intentloop_")
    }
    queried = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"intentloop_[a-z_]+", target["expr"]))
    shown = {re.sub(r"_bucket$", "", n) for n in queried}
    assert shown <= exported, shown - exported
    assert exported <= shown, exported - shown
