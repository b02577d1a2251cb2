"""`intentloop plan --down`: how failures are named and how the answer reads."""

from __future__ import annotations

import pytest

from intentloop_intents import blastradius as br
from intentloop_operator import whatif


def test_elements_are_named_by_kind_and_name() -> None:
    links, devices = whatif.parse_elements(["link/r1-r4", "device/r2", "links/r5-r6"])
    assert (links, devices) == (["r1-r4", "r5-r6"], ["r2"])
    for bad in ("r1-r4", "link/", "port/r1:eth1"):
        with pytest.raises(ValueError, match="link/NAME or device/NAME"):
            whatif.parse_elements([bad])


def test_the_answer_counts_services_tenants_and_slas_and_marks_each_fate() -> None:
    result = br.BlastRadius(
        links=("r1-r4",),
        devices=(),
        impacts=(
            br.Impact("t1", "a", "moves", "re-routed within its bound, 7.0 ms", 7.0),
            br.Impact("t2", "b", "degraded", "best route 7.0 ms exceeds its 3 ms bound", 7.0),
        ),
    )
    text = whatif.show(result)
    assert text.splitlines()[:2] == [
        "# if down: link r1-r4",
        "# 2 service(s) of 2 tenant(s) affected, 1 SLA(s) violated",
    ]
    assert " SLA  t2/b: degraded - best route 7.0 ms exceeds its 3 ms bound" in text
    report = whatif.report(result)
    assert report["slasViolated"] == 1 and report["tenants"] == ["t1", "t2"]
    assert report["services"][0]["latencyMs"] == 7.0
