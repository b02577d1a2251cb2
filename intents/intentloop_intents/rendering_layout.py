"""Where things go in the topology picture (see `rendering`): pure geometry, no markup.

Everything depends on names only — the order of devices round the circle, which side of a
link each service runs on, where a label goes — so the picture of the same network is the
same picture, and a device does not move because a link went down.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from intentloop_intents import rendering_style as style

if TYPE_CHECKING:
    from intentloop_intents.rendering import LinkView, ServiceView

Point = tuple[float, float]
Segment = tuple[Point, Point]
Box = tuple[float, float, float, float]

CENTRE: Point = (375.0, 390.0)
"""Middle of the map: the left part of the canvas, below the title, above the key."""
RADIUS = 245.0
DEVICE_R = 22.0


def natural_key(name: str) -> tuple[tuple[int, str], ...]:
    """`r2` before `r10`: the order a person expects, and the order round the circle."""
    return tuple((1, p) if not p.isdigit() else (0, f"{int(p):012d}") for p in _DIGITS.split(name))


_DIGITS = re.compile(r"(\d+)")


def ring_order(names: Sequence[str], links: Sequence[LinkView]) -> list[str]:
    """Devices in the order of a depth-first walk of the links, neighbours by name.

    Why not just by name: a ring whose names do not follow it (`pe-1, r2, r3, pe-4`) would
    become a star of crossing chords. A walk that always takes the first unvisited neighbour
    goes round a ring and keeps a branch together. It depends on names and on which links
    exist, never on their state, so nothing moves when a link goes down. Disconnected parts
    follow each other, first name first.
    """
    neighbours: dict[str, set[str]] = {n: set() for n in names}
    for lk in links:
        neighbours[lk.a].add(lk.b)
        neighbours[lk.b].add(lk.a)
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(names, key=natural_key):
        stack = [start]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            order.append(n)
            stack.extend(sorted(neighbours[n] - seen, key=natural_key, reverse=True))
    return order


def circle_layout(names: Sequence[str]) -> dict[str, Point]:
    """Devices on a circle in the given order, first at the top, clockwise."""
    if len(names) == 1:
        return {names[0]: CENTRE}
    step = 2 * math.pi / max(len(names), 1)
    return {
        n: (
            CENTRE[0] + RADIUS * math.cos(-math.pi / 2 + i * step),
            CENTRE[1] + RADIUS * math.sin(-math.pi / 2 + i * step),
        )
        for i, n in enumerate(names)
    }


def link_geometry(links: Sequence[LinkView], pos: dict[str, Point]) -> list[Segment]:
    """One straight segment per link; parallel links between two devices spread apart."""
    bundles: dict[frozenset[str], list[str]] = {}
    for lk in links:
        bundles.setdefault(frozenset((lk.a, lk.b)), []).append(lk.name)
    out = []
    for lk in links:
        lo, hi = sorted((lk.a, lk.b))
        nx, ny = normal(pos[lo], pos[hi])
        bundle = bundles[frozenset((lk.a, lk.b))]
        shift = (bundle.index(lk.name) - (len(bundle) - 1) / 2) * 16
        (ax, ay), (bx, by) = pos[lk.a], pos[lk.b]
        out.append(((ax + nx * shift, ay + ny * shift), (bx + nx * shift, by + ny * shift)))
    return out


def normal(p: Point, q: Point) -> Point:
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = math.hypot(dx, dy) or 1.0
    return (-dy / length, dx / length)


def lerp(p: Point, q: Point, t: float) -> Point:
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def link_width(capacity_mbps: float) -> float:
    """Logarithmic: 1 G and 100 G should both be visible, neither a wall."""
    return min(max(2.0 + 1.4 * math.log2(max(capacity_mbps, 1.0) / 1000.0), 2.0), 10.0)


class ServiceLanes:
    """Each service runs beside its links in its own lane, so shared links show every user.

    Lanes alternate sides of a link, counted per link: a link used by one service keeps that
    service's line close to it. Call `primary` then `backup` for services in legend order.
    """

    def __init__(self, links: Sequence[LinkView], geo: dict[str, Segment]) -> None:
        self._links = {lk.name: lk for lk in links}
        self._geo = geo
        self._used: dict[str, int] = {}

    def primary(self, svc: ServiceView) -> list[list[Point]]:
        if len(svc.path) < 2:
            return [self._lane(n, None) for n in dict.fromkeys(svc.path_links) if n in self._geo]
        chains: list[list[Point]] = []
        current: list[Point] = []
        for u, v in zip(svc.path, svc.path[1:], strict=False):
            name = self._between(u, v, preferred=svc.path_links)
            if name is None:  # a hop the picture has no link for: break the line there
                chains, current = [*chains, current] if current else chains, []
                continue
            current.extend(self._lane(name, u))
        return [*chains, current] if current else chains

    def backup(self, svc: ServiceView) -> list[list[Point]]:
        return [self._lane(n, None) for n in dict.fromkeys(svc.backup_links) if n in self._geo]

    def _between(self, u: str, v: str, *, preferred: Iterable[str]) -> str | None:
        found = [n for n, lk in self._links.items() if {lk.a, lk.b} == {u, v} and n in self._geo]
        wanted = [n for n in found if n in set(preferred)]
        ranked = wanted or sorted(found, key=natural_key)
        return ranked[0] if ranked else None

    def _lane(self, name: str, start: str | None) -> list[Point]:
        lane = self._used.get(name, 0)
        self._used[name] = lane + 1
        (p, q), lk = self._geo[name], self._links[name]
        side = 1 if lane % 2 == 0 else -1
        off = side * (link_width(lk.capacity_mbps) / 2 + 5 + (lane // 2) * 7)
        nx, ny = normal(p, q)
        a, b = (p[0] + nx * off, p[1] + ny * off), (q[0] + nx * off, q[1] + ny * off)
        return [b, a] if start is not None and start == lk.b else [a, b]


@dataclass(frozen=True, slots=True)
class LabelSpot:
    centre: Point
    width: float
    height: float
    t: float
    """How far along its link (0 = end a, 1 = end b) the label sits."""


def place_labels(
    links: Sequence[LinkView], geo: dict[str, Segment], obstacles: Sequence[Box]
) -> dict[str, LabelSpot]:
    """Where each link's label hides nothing: chords cross in the middle of a ring.

    A label should not cover a device, its caption or another label (that hides
    information), nor another link (a label on two links reads as belonging to either).
    On its own link is best; just beside it will do on a short, crowded link. Among equally
    good places the first candidate wins, so an uncrowded link has its label in the middle.
    """
    taken = list(obstacles)
    spots = {}
    for lk in links:
        w, h = style.text_width(style.link_label(lk), 12) + 10, 18.0
        seg = geo[lk.name]
        others = [g for name, g in geo.items() if name != lk.name]
        nx, ny = normal(*seg)
        beside = (abs(nx) * w + abs(ny) * h) / 2 + link_width(lk.capacity_mbps) / 2 + 3
        candidates = [(t, 0.0) for t in _ALONG] + [
            (t, side * beside) for t in (0.5, 0.38, 0.62) for side in (1, -1)
        ]
        cost = functools.partial(_label_cost, seg, (w + 6, h + 6), taken, others)
        t, off = _cheapest(candidates, cost)
        x, y = lerp(*seg, t)
        spot = LabelSpot((x + nx * off, y + ny * off), w, h, t)
        taken.append(box_around(spot.centre, w, h))
        spots[lk.name] = spot
    return spots


_ALONG = (0.5, 0.4, 0.6, 0.32, 0.68, 0.25, 0.75)


def cross_spot(seg: Segment, label_t: float, spots: Iterable[LabelSpot]) -> Point:
    """Where a down link's cross goes: on the link, near its label, on top of no label."""
    labels = [box_around(s.centre, s.width + 20, s.height + 20) for s in spots]
    tries = [t for d in (0.2, 0.3, 0.12) for t in (label_t - d, label_t + d) if 0.15 <= t <= 0.85]
    for t in tries:
        if not any(_overlap(box_around(lerp(*seg, t), 1, 1), b) for b in labels):
            return lerp(*seg, t)
    return lerp(*seg, tries[0] if tries else 0.5)


def _cheapest(
    candidates: Sequence[tuple[float, float]], cost: Callable[[tuple[float, float]], int]
) -> tuple[float, float]:
    """The first candidate that hides nothing, else the least bad (first among equals)."""
    best, best_cost = candidates[0], math.inf
    for c in candidates:
        k = cost(c)
        if k == 0:
            return c
        if k < best_cost:
            best, best_cost = c, k
    return best


def _label_cost(
    seg: Segment,
    size: Point,
    taken: Sequence[Box],
    others: Sequence[Segment],
    where: tuple[float, float],
) -> int:
    t, off = where
    (x, y), (nx, ny) = lerp(*seg, t), normal(*seg)
    box = box_around((x + nx * off, y + ny * off), *size)
    hidden = sum(_overlap(box, b) for b in taken)
    return 10 * hidden + sum(_crosses(box, other) for other in others)


def device_obstacles(pos: dict[str, Point], captions: dict[str, tuple[str, str]]) -> list[Box]:
    """Each device's circle and caption (name, detail): what a link label must not hide."""
    boxes = [box_around(p, 2 * DEVICE_R + 4, 2 * DEVICE_R + 4) for p in pos.values()]
    for name, (title, detail) in captions.items():
        anchor, (x, y), first_dy = caption_place(pos[name])
        w = max(style.text_width(title, 16), style.text_width(detail, 12))
        x0 = x if anchor == "start" else x - w if anchor == "end" else x - w / 2
        top = y + float(first_dy) - 13
        boxes.append((x0, top, x0 + w, top + (33 if detail else 17)))
    return boxes


def _crosses(box: Box, seg: Segment) -> bool:
    """Whether a segment passes through a box: clip it to the box (Liang-Barsky)."""
    (x0, y0), (x1, y1) = seg
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if p == 0:
            if q < 0:  # parallel to this edge and outside it
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False
    return True


def box_around(c: Point, w: float, h: float) -> Box:
    return (c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def caption_place(centre: Point) -> tuple[str, Point, str]:
    """Text anchor, anchor point and first-line offset for a caption outside the ring."""
    dx, dy = centre[0] - CENTRE[0], centre[1] - CENTRE[1]
    length = math.hypot(dx, dy)
    ux, uy = (dx / length, dy / length) if length else (0.0, 1.0)
    point = (centre[0] + ux * (DEVICE_R + 10), centre[1] + uy * (DEVICE_R + 10))
    anchor = "start" if ux > 0.35 else "end" if ux < -0.35 else "middle"
    first_dy = "-18" if uy < -0.35 else "14" if uy > 0.35 else "-2"
    return anchor, point, first_dy


def fit_rows(n: int, *, top: float, bottom: float, row: float) -> int:
    """How many alarm rows fit; one row is kept for "… and N more" when not all do."""
    room = max(int((bottom - top) // row), 0)
    return n if n <= room else max(room - 1, 0)
