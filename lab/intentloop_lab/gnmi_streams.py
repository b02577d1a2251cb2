"""Subscribe streams of a lab gNMI target: SAMPLE at an interval, ON_CHANGE when pushed.

One `Sink` per open stream. The simulator's setters `publish` changed leaves to every sink,
which keeps the value *as it was at that moment* (a DOWN then UP flap is two updates, not
one), and wakes the stream's thread. Configuration changes (a Set, someone on the console)
are published per list entry, so a controller can watch for drift instead of polling.
The stream's generator sends the current values, a sync_response, then loops: pending
ON_CHANGE batches, then the SAMPLE leaves and heartbeats that are due. A sink's backlog is
bounded; a stream whose client stopped reading loses its oldest batches instead of growing
without limit.

Every notification carries the wall-clock time in ns: pygnmi drops notifications whose
timestamp is 0, and controllers order updates by it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pygnmi.spec.v080 import gnmi_pb2

from intentloop_lab import gnmi_spec
from intentloop_lab.gnmi_state import LeafPath, StateLeaf, Value, matches

DEFAULT_SAMPLE_NS = 1_000_000_000
MIN_SAMPLE_NS = 1_000_000
BACKLOG = 1024
IDLE_WAKE_NS = 3600 * 1_000_000_000  # a stream with nothing periodic still checks it is alive
CONFIG_ORIGIN = "intentloop-device"

ConfigChange = tuple[LeafPath, dict[str, Any] | None]  # entry path below device; None: gone
Batch = tuple[int, list[Any], list[Any]]  # timestamp, Updates, deleted Paths


@dataclass(frozen=True)
class Interest:
    """One leaf one subscription asked for, with its gNMI path built once."""

    leaf: StateLeaf
    path: gnmi_pb2.Path
    on_change: bool
    interval_ns: int = 0
    heartbeat_ns: int = 0  # ON_CHANGE: resend this often; SAMPLE: cap on suppression
    suppress_redundant: bool = False  # SAMPLE: send a value only when it changed

    @property
    def period_ns(self) -> int:
        """How often the stream looks at this leaf without being told (0: never)."""
        return self.heartbeat_ns if self.on_change else self.interval_ns


@dataclass(eq=False)  # identity semantics: one sink per open stream
class Sink:
    interests: Sequence[Interest]
    config_patterns: Sequence[LeafPath] = ()  # below /intentloop-device:device
    prefix: gnmi_pb2.Path | None = None  # of every notification: the request's target
    encoding: int = gnmi_spec.PROTO  # of scalar values (the SubscriptionList's encoding)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _batches: deque[Batch] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    _closed: bool = False

    def __post_init__(self) -> None:
        self._on_change = {i.leaf.path: i for i in self.interests if i.on_change}

    def publish(self, timestamp_ns: int, changed: Sequence[LeafPath]) -> None:
        hits = [self._on_change[p] for p in changed if p in self._on_change]
        if hits:
            updates = [update(i.path, i.leaf.read(timestamp_ns), self.encoding) for i in hits]
            self._push((timestamp_ns, updates, []))

    def publish_config(self, timestamp_ns: int, changes: Sequence[ConfigChange]) -> None:
        hits = [c for c in changes if self.wants_config(c[0])]
        if hits:
            updates = [config_update(p, v, self.encoding) for p, v in hits if v is not None]
            deletes = [config_path(p) for p, v in hits if v is None]
            self._push((timestamp_ns, updates, deletes))

    def wants_config(self, entry: LeafPath) -> bool:
        """A pattern selects an entry when either path is a prefix of the other."""
        return any(matches(p, entry) or matches(entry, p) for p in self.config_patterns)

    def _push(self, batch: Batch) -> None:
        with self._cond:
            self._batches.append(batch)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def wait(self, deadline_ns: int) -> list[Batch] | None:
        """Pending batches once there are some or `deadline_ns` passes; None when closed."""
        with self._cond:
            while not self._batches and not self._closed:
                remaining = (deadline_ns - time.time_ns()) / 1e9
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._closed:
                return None
            batches = list(self._batches)
            self._batches.clear()
            return batches


class Hub:
    """The open streams of one target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: set[Sink] = set()

    def add(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.add(sink)

    def remove(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.discard(sink)

    def _current(self) -> list[Sink]:
        with self._lock:
            return list(self._sinks)

    def publish(self, changed: Sequence[LeafPath]) -> None:
        if changed:
            now = time.time_ns()
            for sink in self._current():
                sink.publish(now, changed)

    def publish_config(self, changes: Sequence[ConfigChange]) -> None:
        if changes:
            now = time.time_ns()
            for sink in self._current():
                sink.publish_config(now, changes)

    def close_all(self) -> None:
        with self._lock:
            sinks, self._sinks = list(self._sinks), set()
        for sink in sinks:
            sink.close()


def update(path: gnmi_pb2.Path, value: Value, encoding: int) -> gnmi_pb2.Update:
    return gnmi_pb2.Update(path=path, val=gnmi_spec.encode_scalar(value, encoding))


def config_path(entry: LeafPath) -> gnmi_pb2.Path:
    elems = [gnmi_pb2.PathElem(name="device")]
    elems += [gnmi_pb2.PathElem(name=n, key=dict(k)) for n, k in entry]
    return gnmi_pb2.Path(origin=CONFIG_ORIGIN, elem=elems)


def config_update(entry: LeafPath, value: dict[str, Any], encoding: int) -> gnmi_pb2.Update:
    """A configuration entry: JSON when asked for, otherwise JSON_IETF (PROTO has no
    message for a subtree, gNMI §2.3.3)."""
    val = gnmi_spec.encode_tree(value, encoding, subtree=gnmi_spec.JSON_IETF)
    return gnmi_pb2.Update(path=config_path(entry), val=val)


def notification(
    timestamp_ns: int,
    updates: Sequence[Any],
    deletes: Sequence[Any] = (),
    prefix: gnmi_pb2.Path | None = None,
) -> gnmi_pb2.SubscribeResponse:
    return gnmi_pb2.SubscribeResponse(
        update=gnmi_pb2.Notification(
            timestamp=timestamp_ns, prefix=prefix, update=updates, delete=deletes
        )
    )


def snapshot(
    sink: Sink,
    config: Callable[[], Sequence[ConfigChange]],
    schedule: Schedule | None = None,
) -> gnmi_pb2.SubscribeResponse | None:
    """Every current value the subscription selects, in one notification (None if none)."""
    now = time.time_ns()
    updates = []
    for interest in sink.interests:
        value = interest.leaf.read(now)
        updates.append(update(interest.path, value, sink.encoding))
        if schedule is not None:
            schedule.sent(interest, value, now)
    if sink.config_patterns:
        updates += [
            config_update(p, v, sink.encoding)
            for p, v in config()
            if v is not None and sink.wants_config(p)
        ]
    return notification(now, updates, prefix=sink.prefix) if updates else None


SYNC = gnmi_pb2.SubscribeResponse(sync_response=True)


def dump(
    sink: Sink,
    config: Callable[[], Sequence[ConfigChange]],
    schedule: Schedule | None = None,
) -> Iterator[gnmi_pb2.SubscribeResponse]:
    current = snapshot(sink, config, schedule)
    if current is not None:
        yield current
    yield SYNC


class Schedule:
    """When each leaf a stream watches on its own is next due, and what it last sent.

    SAMPLE leaves are due every sample interval; with `suppress_redundant` a due leaf is
    sent only if its value changed, or once its heartbeat has passed since it was last sent
    (gNMI §3.5.1.5.2). ON_CHANGE leaves with a heartbeat are resent every heartbeat
    whether they changed or not."""

    def __init__(self, interests: Sequence[Interest], start_ns: int, encoding: int) -> None:
        self._encoding = encoding
        self._periodic = [i for i in interests if i.period_ns > 0]
        self._due = {id(i): start_ns + i.period_ns for i in self._periodic}
        self._last: dict[int, tuple[Value, int]] = {}

    def next_due(self, default_ns: int) -> int:
        return min(self._due.values(), default=default_ns)

    def sent(self, interest: Interest, value: Value, now_ns: int) -> None:
        self._last[id(interest)] = (value, now_ns)

    def due(self, now_ns: int) -> list[gnmi_pb2.Update]:
        """The updates due at `now_ns`; advances each due leaf to its next time."""
        updates = []
        for interest in self._periodic:
            key = id(interest)
            if self._due[key] > now_ns:
                continue
            # Keep the cadence, but never try to catch up a backlog of missed ticks.
            period = interest.period_ns
            self._due[key] = max(self._due[key] + period, now_ns + period // 2)
            value = interest.leaf.read(now_ns)
            if self._redundant(interest, value, now_ns):
                continue
            self.sent(interest, value, now_ns)
            updates.append(update(interest.path, value, self._encoding))
        return updates

    def _redundant(self, interest: Interest, value: Value, now_ns: int) -> bool:
        if interest.on_change or not interest.suppress_redundant:
            return False
        last = self._last.get(id(interest))
        if last is None or last[0] != value:
            return False
        heartbeat = interest.heartbeat_ns
        return not heartbeat or now_ns - last[1] < heartbeat


def stream(
    sink: Sink,
    config: Callable[[], Sequence[ConfigChange]],
    *,
    updates_only: bool,
    is_active: Callable[[], bool],
) -> Iterator[gnmi_pb2.SubscribeResponse]:
    """A STREAM subscription: current values, sync_response, then changes and samples."""
    start = time.time_ns()
    schedule = Schedule(sink.interests, start, sink.encoding)
    if updates_only:
        yield SYNC
    else:
        yield from dump(sink, config, schedule)
    while is_active():
        batches = sink.wait(schedule.next_due(time.time_ns() + IDLE_WAKE_NS))
        if batches is None:
            return
        for timestamp_ns, updates, deletes in batches:
            yield notification(timestamp_ns, updates, deletes, sink.prefix)
        now = time.time_ns()
        due = schedule.due(now)
        if due:
            yield notification(now, due, prefix=sink.prefix)
