"""The parts of the topology picture round the map: title, keys, services and alarms.

The alarm panel is what a person reads first when something is wrong, so it takes all the
room the service legend leaves, and says how many alarms did not fit rather than dropping
them silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET  # builds markup only, never parses

from intentloop_intents import rendering_layout as layout
from intentloop_intents import rendering_style as style

if TYPE_CHECKING:
    from intentloop_intents.rendering import AlarmView, NetworkView, ServiceView


def header(svg: ET.Element, view: NetworkView, title: str, at: datetime, n_alarms: int) -> None:
    """Title, time of the picture, and the counts a person checks first."""
    style.el(svg, "text", style.safe(title, 60), x=20, y=32, font_size=22, font_weight="bold")
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    style.el(svg, "text", stamp, x=style.WIDTH - 20, y=32, text_anchor="end", font_size=14)
    down = sum(1 for lk in view.links if lk.oper_state == "down")
    unreachable = sum(1 for d in view.devices if d.reachable is False)
    parts = [
        f"{len(view.devices)} devices" + (f" ({unreachable} unreachable)" if unreachable else ""),
        f"{len(view.links)} links" + (f" ({down} down)" if down else ""),
        f"{len(view.services)} services",
        f"{n_alarms} active alarms",
    ]
    style.el(svg, "text", "  ·  ".join(parts), x=20, y=54, fill=style.MUTED, font_size=14)


def link_key(g: ET.Element) -> None:
    x, y = 20.0, style.HEIGHT - 18.0
    for look, caption in style.LINK_KEY:
        dash = {"stroke_dasharray": look.dash} if look.dash else {}
        style.el(
            g,
            "line",
            x1=x,
            y1=y - 4,
            x2=x + 26,
            y2=y - 4,
            stroke=look.colour,
            stroke_width=4,
            **dash,
        )
        style.el(g, "text", caption, x=x + 32, y=y, font_size=12)
        x += 40 + style.text_width(caption, 12) + 14
    style.el(g, "text", "thicker = more capacity", x=x, y=y, font_size=12, fill=style.MUTED)


def device_key(g: ET.Element) -> None:
    x, y = float(style.PANEL_X), style.HEIGHT - 18.0
    for state in ("reachable", "unknown", "unreachable"):
        style.el(g, "circle", cx=x + 7, cy=y - 4, r=7, fill=style.DEVICE_FILL[state])
        if state == "unreachable":
            style.cross(g, (x + 7, y - 4), 4, style.CROSS, 2)
        caption = "up" if state == "reachable" else state
        style.el(g, "text", caption, x=x + 18, y=y, font_size=12)
        x += 28 + len(caption) * 6.8
    style.el(g, "circle", cx=x + 7, cy=y - 4, r=7, fill="none", stroke=style.MUTED, stroke_width=3)
    style.el(g, "text", "alarm", x=x + 18, y=y, font_size=12)


def service_legend(g: ET.Element, services: Sequence[ServiceView]) -> float:
    """One row per service: its colour on the map, its name, its phase. Returns where it ends."""
    x, y = float(style.PANEL_X), 92.0
    style.el(g, "text", "Services", x=x, y=y, font_size=16, font_weight="bold")
    hint = "solid = path, dotted = backup"
    style.el(g, "text", hint, x=x + 80, y=y, font_size=12, fill=style.MUTED)
    if not services:
        style.el(g, "text", "none", x=x, y=y + 22, fill=style.MUTED)
        return y + 22
    fits = len(services) <= _LEGEND_ROWS
    shown = services if fits else services[: _LEGEND_ROWS - 1]
    for i, svc in enumerate(shown):
        y += 22
        _service_row(style.group(g, "service-row", data_legend_of=svc.name), svc, i, x, y)
    if not fits:
        y += 22
        style.el(g, "text", f"… and {len(services) - len(shown)} more", x=x, y=y)
    return y


_LEGEND_ROWS = 8
"""Beyond this the alarm panel matters more; every path is still drawn."""


def _service_row(row: ET.Element, svc: ServiceView, index: int, x: float, y: float) -> None:
    colour = style.service_colour(index)
    style.el(row, "line", x1=x, y1=y - 4, x2=x + 24, y2=y - 4, stroke=colour, stroke_width=5)
    phase = style.safe(svc.phase or "?", 12)
    room = style.WIDTH - 20 - (x + 32) - style.text_width(phase, 13) - 10
    name = style.safe(svc.name, int(room / style.text_width("m", 13)))
    style.el(row, "text", name, x=x + 32, y=y)
    style.el(row, "text", phase, x=style.WIDTH - 20, y=y, text_anchor="end",
             fill=style.phase_colour(svc.phase), font_weight="bold")  # fmt: skip


def alarm_panel(g: ET.Element, alarms: list[tuple[AlarmView, int]], *, top: float) -> None:
    x, y = float(style.PANEL_X), top + 16
    heading = f"Active alarms ({len(alarms)})"
    style.el(g, "text", heading, x=x, y=y, font_size=16, font_weight="bold")
    hint = "root causes first, correlated indented"
    style.el(g, "text", hint, x=x, y=y + 16, font_size=12, fill=style.MUTED)
    y += 20
    if not alarms:
        style.el(g, "text", "none", x=x, y=y + 22, fill=style.MUTED)
    rows = layout.fit_rows(len(alarms), top=y, bottom=style.HEIGHT - 44, row=24)
    for alarm, indent in alarms[:rows]:
        y += 24
        _alarm_row(g, alarm, x + 22 * indent, y)
    if rows < len(alarms):
        style.el(g, "text", f"… and {len(alarms) - rows} more", x=x, y=y + 22, fill=style.MUTED)


def _alarm_row(g: ET.Element, alarm: AlarmView, x: float, y: float) -> None:
    """Severity badge, then where (the source, bold) and what (the probable cause)."""
    row = style.group(g, "alarm root" if alarm.is_root_cause else "alarm", data_alarm=alarm.key)
    sev = alarm.severity or "indeterminate"
    style.el(row, "rect", x=x, y=y - 13, width=66, height=18, rx=3, fill=style.severity_colour(sev))
    badge = style.safe(sev.upper(), 9)
    style.el(row, "text", badge, x=x + 33, y=y, text_anchor="middle", font_size=10,
             font_weight="bold", fill=style.badge_text(sev))  # fmt: skip
    if x > style.PANEL_X:
        style.el(row, "text", "↳", x=x - 16, y=y, fill=style.MUTED)
    room = int((style.WIDTH - 20 - x - 74) / style.text_width("m", 13))
    # The source says where to look, so it gives way only when both cannot fit.
    source = style.safe(alarm.source, max(room - len(alarm.probable_cause) - 1, room // 2))
    cause = style.safe(alarm.probable_cause, max(room - len(source) - 1, 4))
    text = style.el(row, "text", x=x + 74, y=y)
    style.el(text, "tspan", source, font_weight="bold")
    style.el(text, "tspan", " " + cause, fill=style.TEXT)
