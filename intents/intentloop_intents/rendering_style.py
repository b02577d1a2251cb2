"""What the topology picture looks like: palette, wording and the SVG elements it is made of.

Kept apart so that the choices a reader of the picture relies on — the utilisation bands,
the severity colours, the units — sit in one place with their reasons. Every element is
made by `el`, which is the one place strings become markup: each attribute and text passes
through `safe` (XML 1.0 cannot carry control characters, even escaped), and ElementTree
escapes the rest, so a name like `<script>` arrives as literal text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET  # builds markup only, never parses

if TYPE_CHECKING:
    from intentloop_intents.rendering import LinkView

WIDTH, HEIGHT = 1100, 750
PANEL_X = 770
"""The right-hand panel (services, alarms) starts here; the map is to its left."""
FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
BACKGROUND, TEXT, MUTED, CROSS = "#fbfbfb", "#212121", "#616161", "#424242"


@dataclass(frozen=True, slots=True)
class LinkLook:
    kind: str
    colour: str
    dash: str = ""


# Bands rather than a continuous ramp: a reader compares a link with the key at a glance.
# 60 % and 85 % are the usual "plan an upgrade" and "at risk on a failure" thresholds.
LOADED, HOT = 0.6, 0.85
LINK_OK = LinkLook("ok", "#2e9d47")
LINK_BUSY = LinkLook("busy", "#f0a202")
LINK_HOT = LinkLook("hot", "#e4572e")
LINK_DOWN = LinkLook("down", "#b71c1c", "10 7")
LINK_UNKNOWN = LinkLook("unknown", "#9e9e9e", "3 6")
DOWN = LINK_DOWN.colour
LINK_KEY = (
    (LINK_OK, "< 60 % used"),
    (LINK_BUSY, "60-85 %"),
    (LINK_HOT, "≥ 85 %"),
    (LINK_DOWN, "down"),
    (LINK_UNKNOWN, "state unknown"),
)


# Service colours avoid the green/amber/red of link load, so a path never reads as a state.
_SERVICE_COLOURS = ("#1f6feb", "#8e44ad", "#00a3a3", "#d63384", "#6f4e37", "#3d5a80")
DEVICE_FILL = {"reachable": "#37474f", "unknown": "#90a4ae", "unreachable": "#d6d6d6"}
_SEVERITY = {
    "critical": "#b71c1c",
    "major": "#e65100",
    "minor": "#f9a825",
    "warning": "#1976d2",
    "indeterminate": "#757575",
    "cleared": "#9e9e9e",
}
_PHASE = {"Ready": "#2e7d32", "Degraded": "#e65100", "Failed": "#b71c1c"}


def load_ratio(lk: LinkView) -> float:
    """The larger of what is promised (reserved) and what flows (measured), per capacity."""
    if lk.capacity_mbps <= 0:
        return 0.0
    return max(lk.reserved_mbps, lk.utilisation_mbps or 0.0) / lk.capacity_mbps


def link_look(oper_state: str, ratio: float) -> LinkLook:
    if oper_state == "down":
        return LINK_DOWN
    if oper_state != "up":
        return LINK_UNKNOWN
    return LINK_OK if ratio < LOADED else LINK_BUSY if ratio < HOT else LINK_HOT


def mbps(v: float) -> str:
    if not math.isfinite(v):
        return "?"
    if v >= 1000:
        return f"{v / 1000:.1f}".removesuffix(".0") + "G"
    return f"{v:.0f}M" if v else "0"


def link_label(lk: LinkView) -> str:
    """Latency and reserved/capacity; plus measured load when it, not reservations, sets the
    colour — otherwise a red link labelled "300M/2.5G" would look like a mistake."""
    use = f"{mbps(lk.reserved_mbps)}/{mbps(lk.capacity_mbps)}"
    if lk.oper_state == "down":
        return f"DOWN · {use}"
    latency = lk.latency_ms
    parts = [f"{latency:.1f} ms"] if latency is not None and math.isfinite(latency) else []
    parts.append(use)
    measured = lk.utilisation_mbps or 0.0
    if measured > lk.reserved_mbps and load_ratio(lk) >= LOADED:
        parts.append(f"{load_ratio(lk):.0%} used")
    return " · ".join(parts)


def text_width(s: str, size: float) -> float:
    """A deliberate over-estimate (DejaVu Sans is wide): a box that is too big hides less."""
    return len(s) * size * 0.62


def service_colour(index: int) -> str:
    return _SERVICE_COLOURS[index % len(_SERVICE_COLOURS)]


def severity_colour(severity: str) -> str:
    return _SEVERITY.get(severity, _SEVERITY["indeterminate"])


def severity_rank(severity: str) -> int:
    order = list(_SEVERITY)
    return order.index(severity) if severity in order else len(order)


def badge_text(severity: str) -> str:
    return TEXT if severity == "minor" else "white"


def phase_colour(phase: str) -> str:
    return _PHASE.get(phase, "#1976d2" if phase in ("Pending", "Provisioning") else MUTED)


# Markup: every element goes through `el`, so every string is made safe for XML.

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def safe(s: str, limit: int | None = None) -> str:
    """Text safe for XML 1.0 (control characters cannot be escaped) and short enough to fit."""
    s = _XML_INVALID.sub("?", s)
    return s if limit is None or len(s) <= limit else s[: max(limit - 1, 1)] + "…"


def el(
    parent: ET.Element, tag: str, text: str | None = None, /, **attrs: str | float
) -> ET.Element:
    """A child element; `font_size=12` becomes `font-size="12"`, `class_` becomes `class`."""
    attrib = {
        k.rstrip("_").replace("_", "-"): num(v) if isinstance(v, int | float) else safe(v)
        for k, v in attrs.items()
    }
    child = ET.SubElement(parent, tag, attrib)
    if text is not None:
        child.text = safe(text)
    return child


def group(parent: ET.Element, cls: str, **attrs: str | float) -> ET.Element:
    return el(parent, "g", class_=cls, **attrs)


def cross(
    g: ET.Element, centre: tuple[float, float], half: float, colour: str, width: float
) -> None:
    x, y = centre
    for dx in (half, -half):
        line = el(g, "line", x1=x - dx, y1=y - half, x2=x + dx, y2=y + half)
        line.attrib.update(
            {"stroke": colour, "stroke-width": num(width), "stroke-linecap": "round"}
        )


def num(v: float) -> str:
    """Fixed precision, so the same input gives the same bytes; never "nan" in markup."""
    if not math.isfinite(v):
        return "0"
    text = f"{v:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text
