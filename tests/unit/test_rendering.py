"""The topology picture: what a person looking at it must be able to see, and trust.

The SVG is parsed back (with a hardened parser) and inspected by the classes and data
attributes the renderer puts on each drawn thing; the sample in `docs/images/` is
`sample_network()` rendered at `SAMPLE_TIME` (see `write_sample`).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from intentloop_intents import rendering
from intentloop_intents.rendering import AlarmView, DeviceView, LinkView, NetworkView, ServiceView
from intentloop_operator import topology_render

SVG = "{http://www.w3.org/2000/svg}"
SAMPLE_TIME = datetime(2026, 11, 22, 12, 5, 30, tzinfo=UTC)
_LAB_LINKS = (  # the default lab: ring r1..r6 plus chords r1-r4 and r2-r5
    ("r1", "r2", 10000, 2),
    ("r2", "r3", 10000, 3),
    ("r3", "r4", 5000, 2),
    ("r4", "r5", 10000, 2),
    ("r5", "r6", 2500, 4),
    ("r6", "r1", 10000, 3),
    ("r1", "r4", 1000, 1),
    ("r2", "r5", 2500, 6),
)
_RESERVED = {"r1-r2": 200, "r2-r3": 4200, "r3-r4": 4200, "r4-r5": 4000, "r5-r6": 300}


def sample_network() -> NetworkView:
    """The default lab just after the chord r1-r4 failed and tenant-a/voice was re-pathed."""
    roles = {"r1": "core", "r2": "core", "r3": "edge", "r4": "core", "r5": "core", "r6": "edge"}
    sites = {"r1": "lab-a", "r2": "lab-a", "r3": "lab-b", "r4": "lab-b", "r5": "lab-c"}
    devices = [DeviceView(n, roles[n], sites.get(n, "lab-c"), True) for n in roles]
    links = [
        LinkView(
            name=f"{a}-{b}",
            a=a,
            b=b,
            capacity_mbps=cap,
            reserved_mbps=_RESERVED.get(f"{a}-{b}", 0),
            utilisation_mbps=2300 if f"{a}-{b}" == "r5-r6" else None,
            oper_state="down" if f"{a}-{b}" == "r1-r4" else "up",
            latency_ms=None if f"{a}-{b}" == "r1-r4" else lat + 0.15,
        )
        for a, b, cap, lat in _LAB_LINKS
    ]
    services = [
        ServiceView(
            "tenant-b/backhaul", "Ready", ("r2", "r3", "r4", "r5"), ("r2-r3", "r3-r4", "r4-r5")
        ),
        ServiceView(
            "tenant-a/voice",
            "Degraded",
            ("r1", "r2", "r3", "r4"),
            ("r1-r2", "r2-r3", "r3-r4"),
            backup_links=("r6-r1", "r5-r6", "r4-r5"),
        ),
    ]
    root = "intentloop-system/link-r1-r4-down"
    alarms = [
        AlarmView(root, "critical", "r1-r4", "linkDown", is_root_cause=True),
        AlarmView("a/if-r1", "major", "r1", "interfaceDown", root_cause=root),
        AlarmView("a/if-r4", "major", "r4", "interfaceDown", root_cause=root),
        AlarmView("tenant-a/voice-sla", "warning", "tenant-a/voice", "slaAtRisk", root_cause=root),
        AlarmView("a/util-r5-r6", "minor", "r5-r6", "thresholdCrossed", is_root_cause=True),
        AlarmView("a/old", "major", "r2-r5", "linkDown", active=False, is_root_cause=True),
    ]
    return NetworkView(devices, links, services, alarms)


def write_sample(path: Path = Path("docs/images/topology-sample.svg")) -> None:
    """Regenerate the picture in the docs: `python -c 'from tests.unit.test_rendering
    import write_sample; write_sample()'` from the repository root."""
    path.parent.mkdir(parents=True, exist_ok=True)
    title = "intentloop — default lab after r1-r4 failed"
    path.write_text(rendering.render_svg(sample_network(), generated_at=SAMPLE_TIME, title=title))


def render(view: NetworkView) -> str:
    return rendering.render_svg(view, generated_at=SAMPLE_TIME)


def parse(svg: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(svg.encode(), parser)


def drawn(root: etree._Element, kind: str) -> dict[str, etree._Element]:
    """Every group the renderer drew for a thing of `kind`, by the thing's name."""
    return {attr(g, f"data-{kind}"): g for g in root.iter(f"{SVG}g") if g.get(f"data-{kind}")}


def layer(root: etree._Element, cls: str) -> etree._Element:
    return first(root, f".//{SVG}g[@class='{cls}']")


def first(el: etree._Element, path: str) -> etree._Element:
    found = el.find(path if path.startswith(".") else SVG + path)
    assert found is not None, path
    return found


def attr(el: etree._Element, name: str) -> str:
    return str(el.get(name, ""))


def num(el: etree._Element, name: str) -> float:
    return float(attr(el, name))


def texts(el: etree._Element) -> str:
    return " ".join("".join(str(s) for s in t.itertext()) for t in el.iter(f"{SVG}text"))


def test_every_device_and_link_is_drawn_and_labelled() -> None:
    root = parse(render(sample_network()))
    devices = drawn(root, "device")
    assert sorted(devices) == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert "core · lab-a" in texts(devices["r1"])
    assert {name for name in drawn(root, "link")} == {f"{a}-{b}" for a, b, _, _ in _LAB_LINKS}
    label_text = texts(layer(root, "link-labels"))
    assert "2.1 ms · 4.2G/5G" in label_text  # latency and reserved/capacity of r3-r4


def test_a_down_link_is_drawn_dashed_red_with_a_cross_unlike_an_up_link() -> None:
    links = drawn(parse(render(sample_network())), "link")
    down, up = links["r1-r4"], links["r1-r2"]
    down_line, up_line = first(down, "line"), first(up, "line")
    assert "down" in attr(down, "class") and "down" not in attr(up, "class")
    assert attr(down_line, "stroke-dasharray") and not attr(up_line, "stroke-dasharray")
    assert attr(down_line, "stroke") != attr(up_line, "stroke")
    assert len(down.findall(f"{SVG}line")) == 3  # the link and the two strokes of its cross


def test_link_colour_follows_the_larger_of_reserved_and_measured_load() -> None:
    root = parse(render(sample_network()))
    links = drawn(root, "link")
    classes = {name: attr(g, "class").split()[1] for name, g in links.items()}
    assert classes["r1-r2"] == "ok"  # 200 of 10000 reserved
    assert classes["r3-r4"] == "busy"  # 4200 of 5000 reserved: 84 %
    assert classes["r5-r6"] == "hot"  # 300 reserved but 2300 of 2500 measured
    labels = {attr(g, "data-label-of"): texts(g) for g in layer(root, "link-labels")}
    assert labels["r5-r6"] == "4.2 ms · 300M/2.5G · 92% used"  # why it is red
    assert labels["r3-r4"] == "2.1 ms · 4.2G/5G"  # reservations explain its colour already


def test_thicker_lines_for_more_capacity() -> None:
    links = drawn(parse(render(sample_network())), "link")
    width = {n: num(first(g, "line"), "stroke-width") for n, g in links.items()}
    assert width["r1-r4"] < width["r5-r6"] < width["r3-r4"] < width["r1-r2"]


def test_a_service_path_follows_its_devices_and_its_backup_is_drawn_apart() -> None:
    root = parse(render(sample_network()))
    voice = drawn(root, "service")["tenant-a/voice"]
    (primary,) = voice.findall(f"{SVG}polyline[@class='primary']")
    points = [tuple(map(float, p.split(","))) for p in attr(primary, "points").split()]
    assert len(points) == 6  # three hops, each drawn beside its link
    devices = {n: first(g, "circle") for n, g in drawn(root, "device").items()}

    def near(point: tuple[float, ...], device: str) -> bool:
        c = devices[device]
        dx, dy = point[0] - num(c, "cx"), point[1] - num(c, "cy")
        return math.hypot(dx, dy) < num(c, "r")  # hidden under the device

    assert near(points[0], "r1") and near(points[-1], "r4")
    assert near(points[1], "r2") and near(points[3], "r3")
    assert len(voice.findall(f"{SVG}polyline[@class='backup']")) == 3
    legend = texts(layer(root, "service-legend"))
    assert "tenant-a/voice" in legend and "Degraded" in legend


def test_services_sharing_a_link_run_in_separate_lanes() -> None:
    services = drawn(parse(render(sample_network())), "service")
    lines = {n: attr(first(g, "polyline[@class='primary']"), "points") for n, g in services.items()}
    # both cross r2-r3 then r3-r4: the same hop must not be drawn on the same pixels
    backhaul, voice = (lines[n].split() for n in ("tenant-b/backhaul", "tenant-a/voice"))
    assert backhaul[0:2] != voice[2:4]


def test_alarm_panel_lists_active_alarms_root_causes_first_correlated_indented() -> None:
    panel = layer(parse(render(sample_network())), "alarms")
    rows = [g for g in panel.iter(f"{SVG}g") if g.get("data-alarm")]
    keys = [attr(g, "data-alarm") for g in rows]
    assert "a/old" not in keys  # cleared
    assert keys[0] == "intentloop-system/link-r1-r4-down"  # the critical root cause
    assert set(keys[1:4]) == {"a/if-r1", "a/if-r4", "tenant-a/voice-sla"}
    assert keys[4] == "a/util-r5-r6"
    x = {k: num(first(g, "rect"), "x") for k, g in zip(keys, rows, strict=True)}
    assert x["a/if-r1"] > x[keys[0]] == x["a/util-r5-r6"]
    assert "Active alarms (5)" in texts(panel)


def test_an_unreachable_device_is_grey_and_crossed() -> None:
    view = sample_network()
    view = dataclasses.replace(
        view, devices=[dataclasses.replace(d, reachable=d.name != "r3") for d in view.devices]
    )
    devices = drawn(parse(render(view)), "device")
    assert "unreachable" in attr(devices["r3"], "class")
    assert len(devices["r3"].findall(f"{SVG}line")) == 2
    fill = {n: attr(first(devices[n], "circle"), "fill") for n in ("r2", "r3")}
    assert fill["r3"] != fill["r2"]
    assert not devices["r2"].findall(f"{SVG}line")


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "a & b", 'q"uote', "x\x00y"])
def test_hostile_names_arrive_as_literal_text(hostile: str) -> None:
    view = NetworkView(
        devices=[DeviceView(hostile, role=hostile), DeviceView("r2")],
        links=[LinkView(hostile, hostile, "r2", 1000, oper_state="up")],
        services=[ServiceView(hostile, hostile, (hostile, "r2"))],
        alarms=[AlarmView(hostile, "major", hostile, hostile, is_root_cause=True)],
    )
    svg = render(view)
    root = parse(svg)
    shown = hostile.replace("\x00", "?")
    assert shown in drawn(root, "device") and shown in drawn(root, "link")
    assert shown in drawn(root, "service")
    assert not list(root.iter(f"{SVG}script")) and "<script>" not in svg
    alarm_text = texts(layer(root, "alarms"))
    assert shown[:10] in alarm_text  # long names are shortened to fit the panel


def test_the_same_network_gives_the_same_bytes_whatever_the_input_order() -> None:
    view = sample_network()
    shuffled = NetworkView(
        devices=list(reversed(view.devices)),
        links=list(reversed(view.links)),
        services=list(reversed(view.services)),
        alarms=list(reversed(view.alarms)),
    )
    assert render(view) == render(sample_network()) == render(shuffled)


def test_a_link_to_a_device_without_a_device_resource_is_still_drawn() -> None:
    view = NetworkView(links=[LinkView("x-y", "x", "y", 1000)])
    root = parse(render(view))
    assert sorted(drawn(root, "device")) == ["x", "y"] and "x-y" in drawn(root, "link")


def test_too_many_alarms_end_with_a_count_of_the_rest() -> None:
    alarms = [AlarmView(f"k{i}", "minor", f"r{i}", "x", is_root_cause=True) for i in range(60)]
    panel = layer(parse(render(NetworkView(alarms=alarms))), "alarms")
    shown = [g for g in panel.iter(f"{SVG}g") if g.get("data-alarm")]
    assert 5 < len(shown) < 60
    assert f"and {60 - len(shown)} more" in texts(panel)


# From Kubernetes objects: `intentloop topology render` maps whatever the cluster holds.


def test_objects_with_missing_status_become_unknown_parts_of_the_picture() -> None:
    view = topology_render.network_view(
        devices=[{"metadata": {"name": "r1"}, "spec": {"role": "core", "site": "lab-a"}}],
        links=[
            {"metadata": {"name": "r1-r2"}, "spec": {"a": {"device": "r1"}, "b": {"device": "r2"}}},
            {"metadata": {"name": "broken"}, "spec": {"a": {"device": "r1"}}},  # no b: skipped
        ],
        networkservices=[{"metadata": {"name": "voice", "namespace": "tenant-a"}}],
        alarms=[{"metadata": {"name": "a1", "namespace": "ns"}}],
    )
    assert view.devices == [DeviceView("r1", "core", "lab-a", None)]
    assert [(lk.name, lk.oper_state, lk.capacity_mbps) for lk in view.links] == [
        ("r1-r2", "unknown", 0.0)
    ]
    assert view.services == [ServiceView("tenant-a/voice")]
    assert view.alarms[0].active and view.alarms[0].severity == "indeterminate"
    root = parse(render(view))
    assert "unknown" in attr(drawn(root, "device")["r1"], "class")
    assert "unknown" in attr(drawn(root, "link")["r1-r2"], "class")


def test_alarm_fields_and_root_cause_references_are_read_from_status() -> None:
    status = {
        "perceivedSeverity": "major",
        "probableCause": "interfaceDown",
        "source": {"kind": "Device", "name": "r1"},
        "state": "active",
        "rootCauseRef": {"kind": "Alarm", "name": "link-down"},
    }
    cleared = {**status, "state": "cleared"}
    view = topology_render.network_view(
        devices=[],
        links=[],
        networkservices=[],
        alarms=[
            {"metadata": {"name": "if-down", "namespace": "sys"}, "status": status},
            {"metadata": {"name": "old", "namespace": "sys"}, "status": cleared},
        ],
    )
    assert view.alarms == [
        AlarmView("sys/if-down", "major", "r1", "interfaceDown", root_cause="sys/link-down"),
        AlarmView("sys/old", "major", "r1", "interfaceDown", False, root_cause="sys/link-down"),
    ]


def test_measured_latency_wins_over_the_nominal_one() -> None:
    spec = {"a": {"device": "r1"}, "b": {"device": "r2"}, "capacityMbps": 1000, "latencyMs": 2}
    links = [
        {"metadata": {"name": "nominal"}, "spec": spec},
        {"metadata": {"name": "measured"}, "spec": spec, "status": {"measuredLatencyMs": 7.5}},
    ]
    view = topology_render.network_view(devices=[], links=links, networkservices=[], alarms=[])
    assert {lk.name: lk.latency_ms for lk in view.links} == {"nominal": 2.0, "measured": 7.5}


def test_link_labels_hide_no_device_and_no_other_label() -> None:
    root = parse(render(sample_network()))
    boxes = [
        (num(r, "x"), num(r, "y"), num(r, "x") + num(r, "width"), num(r, "y") + num(r, "height"))
        for r in layer(root, "link-labels").iter(f"{SVG}rect")
    ]
    circles = [first(g, "circle") for g in drawn(root, "device").values()]
    devices = [
        (num(c, "cx") - num(c, "r"), num(c, "cy") - num(c, "r"), num(c, "cx") + num(c, "r"))
        for c in circles
    ]

    def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    assert len(boxes) == len(_LAB_LINKS)
    for i, box in enumerate(boxes):
        assert not any(overlap(box, other) for other in boxes[i + 1 :])
        assert not any(overlap(box, (x0, y0, x1, y0 + (x1 - x0))) for x0, y0, x1 in devices)


@pytest.mark.parametrize(
    "view",
    [
        NetworkView(),
        NetworkView(devices=[DeviceView("only")]),
        NetworkView(links=[LinkView("odd", "a", "b", float("nan"), float("inf"), -1.0, "up")]),
    ],
    ids=["empty cluster", "one device", "nonsense numbers"],
)
def test_degenerate_networks_still_give_a_picture(view: NetworkView) -> None:
    root = parse(render(view))
    markup = etree.tostring(root).decode().lower()
    assert "nan" not in markup and "inf" not in markup
    assert f"{len(view.devices)} devices" in texts(root)
