"""The network at a glance: one SVG of devices, links, service paths and active alarms.

Why a picture at all: `kubectl get links,alarms` answers one question at a time, while a
person debugging "why is the video service degraded" wants to see that the link its path
used is down, that the path now goes around the ring, and which alarm is the root cause —
in one look. The demo writes one picture before and one after a link failure.

Why pure and deterministic: the input is plain data (the operator maps the resources), the
layout depends only on names (devices on a circle in natural name order), and numbers are
written with fixed precision, so the same network always gives the same bytes — pictures
can be compared and kept in version control. Markup is built as `ElementTree` elements, so
any name a user chose (`<script>`, `&`) arrives in the picture as literal text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET  # builds markup only, never parses

from intentloop_intents import rendering_layout as layout
from intentloop_intents import rendering_panels as panels
from intentloop_intents import rendering_style as style
from intentloop_intents.rendering_layout import Point

# Public input: what a picture needs to know, nothing about Kubernetes.


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    role: str = ""
    site: str = ""
    reachable: bool | None = None
    """None while nobody has tried to connect yet."""


@dataclass(frozen=True, slots=True)
class LinkView:
    name: str
    a: str
    b: str
    capacity_mbps: float
    reserved_mbps: float = 0.0
    utilisation_mbps: float | None = None
    oper_state: str = "unknown"
    """"up", "down" or "unknown"."""
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ServiceView:
    name: str
    """`namespace/name`: services of different tenants may share a name."""
    phase: str = ""
    path: tuple[str, ...] = ()
    """Devices in path order."""
    path_links: tuple[str, ...] = ()
    backup_links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmView:
    key: str
    """Unique among the alarms; what `root_cause` of a correlated alarm refers to."""
    severity: str
    source: str
    probable_cause: str
    active: bool = True
    is_root_cause: bool = False
    root_cause: str | None = None


@dataclass(frozen=True, slots=True)
class NetworkView:
    devices: Sequence[DeviceView] = ()
    links: Sequence[LinkView] = ()
    services: Sequence[ServiceView] = ()
    alarms: Sequence[AlarmView] = ()


def render_svg(
    view: NetworkView, *, generated_at: datetime, title: str = "intentloop — network"
) -> str:
    """The whole picture as an SVG document (a string, UTF-8 safe)."""
    devices = _all_devices(view)
    links = sorted(view.links, key=lambda lk: layout.natural_key(lk.name))
    pos = layout.circle_layout(layout.ring_order([d.name for d in devices], links))
    geometry = {lk.name: g for lk, g in zip(links, layout.link_geometry(links, pos), strict=True)}
    services = sorted(view.services, key=lambda s: layout.natural_key(s.name))
    alarms = active_alarms_in_panel_order(view.alarms)

    svg = ET.Element(
        "svg", xmlns="http://www.w3.org/2000/svg", viewBox=f"0 0 {style.WIDTH} {style.HEIGHT}"
    )
    svg.attrib.update(
        {
            "width": str(style.WIDTH),
            "height": str(style.HEIGHT),
            "font-family": style.FONT,
            "font-size": "13",
        }
    )
    style.el(svg, "title", title)  # what screen readers and browser tabs show
    style.el(svg, "rect", width="100%", height="100%", fill=style.BACKGROUND)
    panels.header(svg, view, title, generated_at, len(alarms))
    captions = {d.name: _caption_lines(d) for d in devices}
    spots = layout.place_labels(links, geometry, layout.device_obstacles(pos, captions))
    _links(style.group(svg, "links"), links, geometry, spots)
    _services(style.group(svg, "services"), services, links, geometry)
    alarmed = _worst_severity_by_source(a for a, _ in alarms)
    _link_labels(style.group(svg, "link-labels"), links, spots, alarmed)
    _devices(style.group(svg, "devices"), devices, pos, alarmed)
    panels.link_key(style.group(svg, "link-key"))
    panels.device_key(style.group(svg, "device-key"))
    y = panels.service_legend(style.group(svg, "service-legend"), services)
    panels.alarm_panel(style.group(svg, "alarms"), alarms, top=y + 18)
    ET.indent(svg, space=" ")
    return ET.tostring(svg, encoding="unicode") + "\n"


def active_alarms_in_panel_order(alarms: Sequence[AlarmView]) -> list[tuple[AlarmView, int]]:
    """Active alarms, root causes first (worst first), each followed by its correlated ones.

    The second item is the indent level: 1 for an alarm listed under its root cause.
    """
    active = [a for a in alarms if a.active]
    rank = {a.key: (style.severity_rank(a.severity), layout.natural_key(a.key)) for a in active}
    roots = sorted((a for a in active if a.is_root_cause), key=lambda a: rank[a.key])
    root_keys = {a.key for a in roots}
    children: dict[str, list[AlarmView]] = {}
    orphans = []
    for a in active:
        if a.is_root_cause:
            continue
        if a.root_cause in root_keys:
            children.setdefault(a.root_cause, []).append(a)
        else:
            orphans.append(a)
    ordered: list[tuple[AlarmView, int]] = []
    for root in roots:
        ordered.append((root, 0))
        ordered.extend(
            (c, 1) for c in sorted(children.get(root.key, []), key=lambda a: rank[a.key])
        )
    ordered.extend((a, 0) for a in sorted(orphans, key=lambda a: rank[a.key]))
    return ordered


def _worst_severity_by_source(alarms: Iterable[AlarmView]) -> dict[str, str]:
    """The ring round a device (the frame round a link label) shows its worst alarm."""
    worst: dict[str, str] = {}
    for a in sorted(alarms, key=lambda a: style.severity_rank(a.severity), reverse=True):
        worst[a.source] = a.severity
    return worst


def _all_devices(view: NetworkView) -> list[DeviceView]:
    """Declared devices plus any a link names without a Device: the link is still drawn."""
    known = {d.name: d for d in view.devices}
    for lk in view.links:
        for end in (lk.a, lk.b):
            known.setdefault(end, DeviceView(name=end))
    return sorted(known.values(), key=lambda d: layout.natural_key(d.name))


# The map, layer by layer: each function's elements are drawn over the previous ones.

Geometry = dict[str, layout.Segment]


def _links(
    g: ET.Element, links: Sequence[LinkView], geo: Geometry, spots: dict[str, layout.LabelSpot]
) -> None:
    """Colour by state and load, width by capacity; a down link is dashed and crossed out."""
    for lk in links:
        (x1, y1), (x2, y2) = geo[lk.name]
        down = lk.oper_state == "down"
        look = style.link_look(lk.oper_state, style.load_ratio(lk))
        one = style.group(g, f"link {look.kind}", data_link=lk.name)
        style.el(one, "title", f"{lk.name}: {lk.a} to {lk.b}, {lk.oper_state}")
        width = layout.link_width(lk.capacity_mbps)
        dash = {"stroke_dasharray": look.dash} if look.dash else {}
        style.el(one, "line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=look.colour,
                 stroke_width=max(width, 3.0) if down else width, **dash)  # fmt: skip
        if down:
            at = layout.cross_spot(geo[lk.name], spots[lk.name].t, spots.values())
            style.cross(one, at, 9, style.DOWN, 4)


def _services(
    g: ET.Element, services: Sequence[ServiceView], links: Sequence[LinkView], geo: Geometry
) -> None:
    """Each service in its colour beside the links it uses; its backup dotted."""
    lanes = layout.ServiceLanes(links, geo)
    for i, svc in enumerate(services):
        colour = style.service_colour(i)
        one = style.group(g, "service", data_service=svc.name)
        style.el(one, "title", f"{svc.name} ({svc.phase or 'unknown phase'})")
        for points in lanes.primary(svc):
            _polyline(one, points, cls="primary", stroke=colour, stroke_width=4)
        for points in lanes.backup(svc):
            _polyline(one, points, cls="backup", stroke=colour, stroke_width=2.5,
                      stroke_dasharray="1 5")  # fmt: skip


def _polyline(g: ET.Element, points: list[Point], *, cls: str, **attrs: str | float) -> None:
    pts = " ".join(f"{style.num(x)},{style.num(y)}" for x, y in points)
    style.el(g, "polyline", class_=cls, points=pts, fill="none", stroke_linejoin="round",
             stroke_linecap="round", stroke_opacity=0.9, **attrs)  # fmt: skip


def _link_labels(
    g: ET.Element,
    links: Sequence[LinkView],
    spots: dict[str, layout.LabelSpot],
    alarmed: dict[str, str],
) -> None:
    """Latency and reserved/capacity; a down link's label is red, an alarmed one framed."""
    for lk in links:
        (x, y), w, h = spots[lk.name].centre, spots[lk.name].width, spots[lk.name].height
        down, alarm = lk.oper_state == "down", alarmed.get(lk.name)
        one = style.group(g, "link-label", data_label_of=lk.name)
        style.el(one, "rect", x=x - w / 2, y=y - h / 2, width=w, height=h, rx=4,
                 fill=style.DOWN if down else "white",
                 stroke=style.severity_colour(alarm) if alarm else style.MUTED,
                 stroke_width=2 if alarm else 0.6)  # fmt: skip
        style.el(one, "text", style.link_label(lk), x=x, y=y + 4, text_anchor="middle",
                 font_size=12, fill="white" if down else style.TEXT,
                 font_weight="bold" if down else "normal")  # fmt: skip


def _devices(
    g: ET.Element, devices: Sequence[DeviceView], pos: dict[str, Point], alarmed: dict[str, str]
) -> None:
    """Circles, grey and crossed out when unreachable, ringed in the worst alarm's colour."""
    r = layout.DEVICE_R
    for d in devices:
        x, y = pos[d.name]
        state = {True: "reachable", False: "unreachable", None: "unknown"}[d.reachable]
        one = style.group(g, f"device {state}", data_device=d.name)
        style.el(one, "title", f"{d.name}: {state}")
        if d.name in alarmed:
            ring = style.severity_colour(alarmed[d.name])
            style.el(one, "circle", cx=x, cy=y, r=r + 6, fill="none", stroke=ring, stroke_width=4)
        fill = style.DEVICE_FILL[state]
        style.el(one, "circle", cx=x, cy=y, r=r, fill=fill, stroke="white", stroke_width=2)
        if d.reachable is False:
            style.cross(one, (x, y), r * 0.55, style.CROSS, 3)
        _device_caption(one, d, (x, y))


def _device_caption(g: ET.Element, d: DeviceView, centre: Point) -> None:
    """Name and role/site outside the circle, pointing away from the centre of the ring."""
    anchor, (x, y), first_dy = layout.caption_place(centre)
    text = style.el(g, "text", x=x, y=y, text_anchor=anchor)
    title, detail = _caption_lines(d)
    style.el(text, "tspan", title, x=x, dy=first_dy, font_size=16, font_weight="bold")
    if detail:
        style.el(text, "tspan", detail, x=x, dy=16, fill=style.MUTED, font_size=12)


def _caption_lines(d: DeviceView) -> tuple[str, str]:
    return style.safe(d.name, 24), style.safe(" · ".join(p for p in (d.role, d.site) if p), 30)
