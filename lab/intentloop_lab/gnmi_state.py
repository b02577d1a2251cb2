"""The operational state a lab router streams: per-interface leaves and two system leaves.

The lab simulator decides what links do and pushes the results in through setters; the
target turns them into the OpenConfig-like leaves every lab router serves. Counters are not
stored but derived from the rate (octets = rate x time since the last rate change), so they
advance smoothly between samples without a ticking thread, and stand still while the
interface is down.

Leaves are identified by their gNMI path as a tuple of `(name, ((key, value), ...))`
elements; `matches` implements gNMI's path semantics for subscriptions and Get: a shorter
path selects a subtree, a missing key or `*` matches every entry, `*` matches any name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Elem = tuple[str, tuple[tuple[str, str], ...]]
LeafPath = tuple[Elem, ...]
Value = str | int | float
NaturalMode = Literal["on_change", "sample"]


@dataclass(frozen=True)
class StateLeaf:
    path: LeafPath
    mode: NaturalMode  # what TARGET_DEFINED subscriptions get
    read: Callable[[int], Value]  # current value at a time in ns
    pushed: bool = True  # changes only through setters, so ON_CHANGE can report it

    @property
    def on_change(self) -> bool:
        return self.mode == "on_change"


@dataclass
class _Interface:
    oper_up: bool = True
    latency_ms: float = 0.0
    out_rate_mbps: float = 0.0
    in_rate_mbps: float = 0.0
    out_octets: float = 0.0
    in_octets: float = 0.0
    since_ns: int = 0

    def advance(self, now_ns: int) -> None:
        """Fold the octets sent since the last change into the counters."""
        if self.oper_up and now_ns > self.since_ns:
            seconds = (now_ns - self.since_ns) / 1e9
            self.out_octets += self.out_rate_mbps * 125_000.0 * seconds
            self.in_octets += self.in_rate_mbps * 125_000.0 * seconds
        self.since_ns = now_ns

    def octets(self, now_ns: int, *, out: bool) -> int:
        base, rate = (
            (self.out_octets, self.out_rate_mbps) if out else (self.in_octets, self.in_rate_mbps)
        )
        if self.oper_up and now_ns > self.since_ns:
            base += rate * 125_000.0 * (now_ns - self.since_ns) / 1e9
        return int(base)


class RouterState:
    """Thread-safe: the simulator writes from its thread, streams read from gRPC threads."""

    def __init__(self, *, hostname: str, software_version: str, interfaces: Sequence[str]):
        self._lock = threading.Lock()
        now = time.time_ns()
        self._interfaces = {name: _Interface(since_ns=now) for name in interfaces}
        self._hostname = hostname
        self._software_version = software_version
        self.leaves: tuple[StateLeaf, ...] = tuple(self._build_leaves())

    def _build_leaves(self) -> list[StateLeaf]:
        leaves = [
            StateLeaf(_system("software-version"), "on_change", lambda _t: self._software_version),
            StateLeaf(_system("hostname"), "on_change", lambda _t: self._hostname),
        ]
        for name in self._interfaces:
            leaves += self._interface_leaves(name)
        return leaves

    def _interface_leaves(self, name: str) -> list[StateLeaf]:
        iface = self._interfaces[name]

        def oper(_t: int) -> Value:
            return "UP" if iface.oper_up else "DOWN"

        def in_octets(t: int) -> Value:
            with self._lock:
                return iface.octets(t, out=False)

        def out_octets(t: int) -> Value:
            with self._lock:
                return iface.octets(t, out=True)

        return [
            StateLeaf(interface_leaf(name, "oper-status"), "on_change", oper),
            StateLeaf(interface_leaf(name, "counters", "in-octets"), "sample", in_octets, False),
            StateLeaf(interface_leaf(name, "counters", "out-octets"), "sample", out_octets, False),
            StateLeaf(
                interface_leaf(name, "out-rate-mbps"), "sample", lambda _t: iface.out_rate_mbps
            ),
            StateLeaf(interface_leaf(name, "latency-ms"), "sample", lambda _t: iface.latency_ms),
        ]

    def interface(self, name: str) -> _Interface:
        try:
            return self._interfaces[name]
        except KeyError:
            raise KeyError(f"no interface {name!r} on {self._hostname}") from None

    def oper_up(self, name: str) -> bool:
        return self.interface(name).oper_up

    def update(self, name: str, **changes: float | bool) -> list[LeafPath]:
        """Apply changes to one interface; returns the leaves whose value changed."""
        iface = self.interface(name)
        changed: list[LeafPath] = []
        with self._lock:
            iface.advance(time.time_ns())
            for attr, value in changes.items():
                if getattr(iface, attr) != value:
                    setattr(iface, attr, value)
                    if attr in _LEAF_OF:
                        changed.append(interface_leaf(name, *_LEAF_OF[attr]))
        return changed

    def select(self, pattern: LeafPath) -> list[StateLeaf]:
        return [leaf for leaf in self.leaves if matches(pattern, leaf.path)]


_LEAF_OF = {
    "oper_up": ("oper-status",),
    "latency_ms": ("latency-ms",),
    "out_rate_mbps": ("out-rate-mbps",),
}


def interface_leaf(name: str, *leaf: str) -> LeafPath:
    return (
        ("interfaces", ()),
        ("interface", (("name", name),)),
        ("state", ()),
        *((part, ()) for part in leaf),
    )


def _system(leaf: str) -> LeafPath:
    return (("system", ()), ("state", ()), (leaf, ()))


def matches(pattern: LeafPath, path: LeafPath) -> bool:
    """Whether the gNMI path `pattern` selects the leaf at `path` (prefix and wildcards)."""
    if len(pattern) > len(path):
        return False
    for (p_name, p_keys), (name, keys) in zip(pattern, path, strict=False):
        if p_name not in ("*", name):
            return False
        have = dict(keys)
        for key, value in p_keys:
            if value != "*" and have.get(key) != value:
                return False
    return True


def render(path: LeafPath) -> str:
    """The conventional string form of a path, for messages and logs."""
    return "/" + "/".join(name + "".join(f"[{k}={v}]" for k, v in keys) for name, keys in path)
