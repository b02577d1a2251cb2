"""The lab router's SSH `netconf` subsystem: a byte relay to netconfd with a fault switch.

sshd runs this per session instead of `netconf-subsystem` directly; it runs that program as
a child and copies whole NETCONF messages both ways. While the flag file exists, the next
`<commit>` is not forwarded: the relay answers it with an `<rpc-error>`, the way a router
with a platform bug refuses a commit, and removes the flag (only one session wins it).

Messages are forwarded whole (never split), so an injected reply cannot land inside a
message of netconfd's. Both framings are understood: end-of-message `]]>]]>` (hello and
base:1.0) and chunked framing (base:1.1, RFC 6242), recognised per message by its `\\n#`.

netconfd has no operational state of its own, so for a router whose telemetry goes over
NETCONF the relay also plays the device's data plane: once the session has subscribed (it
saw a `<create-subscription>` and forwarded netconfd's `<ok/>`), it watches the interface
state the lab daemon publishes beside the flag file (`STATE_FILE`, replaced atomically) and
injects `interface-state` notifications of the `intentloop-device` module: the entries that
changed as soon as the file changes, every entry once a second as a sample. Routers without
that file never get one.

A router's commit fails when its data plane refuses the configuration (`--control`, the
lab daemon's socket): the relay holds the client's `<commit>`, reads the candidate from
netconfd in the same session (its own `<get-config>`, whose reply the client never sees),
and asks the daemon to apply it to the router's kernel. Only if the kernel took it is the
`<commit>` forwarded; otherwise the client gets an `<rpc-error>` with the kernel's reason
and running stays as it was — as on a router, whose commit is its data plane taking the
change. Messages the client sends meanwhile wait behind the held commit, in order. A
daemon that cannot be reached does not block commits (the daemon applies running later).

Standard library only at start-up; lxml is loaded when the flag is set, a session
subscribes or commits, so a session starts fast.
Run as a script:
`python -I netconf_relay.py --flag FILE [--control SOCKET] -- netconf-subsystem ARGS...`.
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

EOM = b"]]>]]>"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NOTIFICATION_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
DEVICE_NS = "urn:intentloop:device"
STATE_FILE = "interface-state.json"  # in the directory of the flag file
WATCH_INTERVAL_S = 0.05
SAMPLE_INTERVAL_S = 1.0
_CHUNK = re.compile(rb"\n#(?:([1-9][0-9]{0,9})\n|#\n)")
_CHUNK_HEADER_MAX = 13
REFUSAL = "commit failed: configuration daemon reported an internal error (lab fault switch)"
CHECK_FILE = "commit-check.xml"  # the candidate handed to the daemon, beside the flag file
CHECK_ID = "intentloop-relay-check"
CONTROL_TIMEOUT_S = 60.0
PLAIN_HOLD_S = 15.0  # how long the kernel keeps a checked commit before running must show it
DEFAULT_CONFIRM_TIMEOUT_S = 600  # RFC 6241 8.4.5.1


class Deframer:
    """Cuts a NETCONF byte stream into whole messages: (raw bytes, payload, chunked?).

    On a stream it cannot frame it stops framing and hands bytes on as they come: the relay
    must never be the reason a session breaks.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._broken = False

    @property
    def broken(self) -> bool:
        """True once the stream could not be framed: nothing may be injected into it."""
        return self._broken

    def feed(self, data: bytes) -> list[tuple[bytes, bytes, bool]]:
        self._buf += data
        messages: list[tuple[bytes, bytes, bool]] = []
        while True:
            message = self._next()
            if message is None:
                return messages
            messages.append(message)

    def _next(self) -> tuple[bytes, bytes, bool] | None:
        buf = self._buf
        if self._broken and buf:
            raw = bytes(buf)
            buf.clear()
            return raw, b"", False
        if len(buf) < 2:
            return None
        if buf.startswith(b"\n#"):
            return self._next_chunked()
        end = buf.find(EOM)
        if end < 0:
            return None
        raw = bytes(buf[: end + len(EOM)])
        del buf[: end + len(EOM)]
        return raw, raw[:end], False

    def _next_chunked(self) -> tuple[bytes, bytes, bool] | None:
        buf, pos, payload = self._buf, 0, bytearray()
        while True:
            match = _CHUNK.match(buf, pos)
            if match is None:
                if len(buf) - pos >= _CHUNK_HEADER_MAX:
                    self._broken = True
                    return self._next()
                return None
            if match.group(1) is None:
                end = match.end()
                raw = bytes(buf[:end])
                del buf[:end]
                return raw, bytes(payload), True
            size = int(match.group(1))
            if len(buf) < match.end() + size:
                return None
            payload += buf[match.end() : match.end() + size]
            pos = match.end() + size


def frame(payload: bytes, chunked: bool) -> bytes:
    if chunked:
        return b"\n#%d\n%s\n##\n" % (len(payload), payload)
    return payload + EOM


def _parse(payload: bytes) -> Any:
    """One message as an lxml element (hardened: no entities, no network), or None."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )
    try:
        return etree.fromstring(payload, parser)
    except etree.XMLSyntaxError:
        return None


def _operation(payload: bytes, name: str) -> tuple[Any, Any] | None:
    """(rpc, operation) if `payload` is an `<rpc>` whose operation is `name` (base ns)."""
    rpc = _parse(payload)
    if rpc is None:
        return None
    operation = next(iter(rpc), None)
    if rpc.tag != f"{{{NC_NS}}}rpc" or operation is None or operation.tag != f"{{{NC_NS}}}{name}":
        return None
    return rpc, operation


def refusal_for(payload: bytes) -> bytes | None:
    """The rpc-error reply if `payload` is an `<rpc>` whose operation is `<commit>`."""
    found = _operation(payload, "commit")
    return None if found is None else rpc_error(found[0], REFUSAL)


def commit_hold_s(payload: bytes) -> float | None:
    """For a `<commit>`: how long the kernel should keep it before running shows it (a
    confirmed commit: until its confirm timeout); None if `payload` is not a commit."""
    found = _operation(payload, "commit")
    if found is None:
        return None
    commit = found[1]
    if commit.find(f"{{{NC_NS}}}confirmed") is None:
        return PLAIN_HOLD_S
    timeout = commit.findtext(f"{{{NC_NS}}}confirm-timeout")
    try:
        seconds = int(timeout) if timeout else DEFAULT_CONFIRM_TIMEOUT_S
    except ValueError:
        seconds = DEFAULT_CONFIRM_TIMEOUT_S
    return float(seconds) + PLAIN_HOLD_S


def candidate_request() -> bytes:
    """The relay's own `<get-config>` of the candidate (its reply goes to the relay)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rpc xmlns="{NC_NS}" message-id="{CHECK_ID}">'
        "<get-config><source><candidate/></source></get-config></rpc>"
    ).encode()


def is_check_reply(payload: bytes) -> bool:
    if CHECK_ID.encode() not in payload:
        return False
    reply = _parse(payload)
    return (
        reply is not None
        and reply.tag == f"{{{NC_NS}}}rpc-reply"
        and reply.get("message-id") == CHECK_ID
    )


def ask_daemon(control: str, request: dict[str, Any]) -> str | None:
    """One request to the lab daemon: None when it accepted (or cannot be reached: the
    daemon applies running itself later), else its refusal."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONTROL_TIMEOUT_S)
            sock.connect(control)
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        reply = json.loads(answer)
    except (OSError, ValueError):
        return None
    if reply.get("ok"):
        return None
    return str(reply.get("error") or "refused")


def rpc_error(rpc: Any, message: str) -> bytes:
    """An `<rpc-reply>` to `rpc` carrying one operation-failed `<rpc-error>`."""
    from lxml import etree

    default_ns: dict[Any, str] = {None: NC_NS}
    reply = etree.Element(f"{{{NC_NS}}}rpc-reply", nsmap=default_ns)
    for name, value in rpc.attrib.items():
        reply.set(name, value)
    error = etree.SubElement(reply, f"{{{NC_NS}}}rpc-error")
    for tag, text in (
        ("error-type", "application"),
        ("error-tag", "operation-failed"),
        ("error-severity", "error"),
        ("error-message", message),
    ):
        etree.SubElement(error, f"{{{NC_NS}}}{tag}").text = text
    result: bytes = etree.tostring(reply, xml_declaration=True, encoding="UTF-8")
    return result


# --- interface state: published by the lab daemon, injected as notifications -----------
class InterfaceState(NamedTuple):
    """One interface's entry of an `interface-state` notification."""

    oper_up: bool
    latency_ms: float
    out_rate_mbps: float


def write_state(path: str, interfaces: Mapping[str, InterfaceState], changed_at_ns: int) -> None:
    """Publish the state for the relays: write beside, then rename over (atomic)."""
    document = {
        "changed-at-ns": changed_at_ns,
        "interface": [
            {
                "name": name,
                "oper-status": "up" if value.oper_up else "down",
                "latency-ms": value.latency_ms,
                "out-rate-mbps": value.out_rate_mbps,
            }
            for name, value in sorted(interfaces.items())
        ],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(document, out)
    os.replace(tmp, path)


def read_state(path: str) -> tuple[dict[str, InterfaceState], int] | None:
    """The published state and when it last changed; None when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        interfaces = {
            str(entry["name"]): InterfaceState(
                entry["oper-status"] == "up",
                float(entry["latency-ms"]),
                float(entry["out-rate-mbps"]),
            )
            for entry in document["interface"]
        }
        return interfaces, int(document["changed-at-ns"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def notification(interfaces: Mapping[str, InterfaceState], event_time_ns: int) -> bytes:
    """An RFC 5277 `<notification>` carrying an `interface-state` with these entries."""
    from lxml import etree

    outer: dict[Any, str] = {None: NOTIFICATION_NS}
    inner: dict[Any, str] = {None: DEVICE_NS}
    root = etree.Element(f"{{{NOTIFICATION_NS}}}notification", nsmap=outer)
    etree.SubElement(root, f"{{{NOTIFICATION_NS}}}eventTime").text = event_time(event_time_ns)
    state = etree.SubElement(root, f"{{{DEVICE_NS}}}interface-state", nsmap=inner)
    for name, value in sorted(interfaces.items()):
        entry = etree.SubElement(state, f"{{{DEVICE_NS}}}interface")
        for leaf, text in (
            ("name", name),
            ("oper-status", "up" if value.oper_up else "down"),
            ("latency-ms", _decimal64(value.latency_ms)),
            ("out-rate-mbps", _decimal64(value.out_rate_mbps)),
        ):
            if text is not None:
                etree.SubElement(entry, f"{{{DEVICE_NS}}}{leaf}").text = text
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return result


def event_time(ns: int) -> str:
    """RFC 3339 in UTC with microseconds, e.g. `2026-11-01T10:00:00.250000Z`."""
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _decimal64(value: float) -> str | None:
    """The YANG decimal64 (3 fraction digits, >= 0); None leaves out what it cannot hold."""
    if not math.isfinite(value) or not 0 <= value < 9.2e15:
        return None
    return f"{value:.3f}"


class Subscription:
    """Follows a session's `<create-subscription>` until netconfd accepts it."""

    def __init__(self) -> None:
        self.pending: str | None = None  # the message-id awaiting netconfd's reply
        self.active = False
        self.chunked = False  # the framing to inject in: the one netconfd's `<ok/>` used

    def request(self, payload: bytes) -> None:
        """Look at a client message (cheaply: most are not subscriptions)."""
        if self.active or b"create-subscription" not in payload:
            return
        rpc = _parse(payload)
        if rpc is None or rpc.tag != f"{{{NC_NS}}}rpc":
            return
        operation = next(iter(rpc), None)
        if operation is not None and operation.tag == f"{{{NOTIFICATION_NS}}}create-subscription":
            self.pending = rpc.get("message-id", "")

    def reply(self, payload: bytes, chunked: bool) -> bool:
        """Whether this message of netconfd's is the `<ok/>` that starts the subscription."""
        if self.pending is None or b"rpc-reply" not in payload:
            return False
        reply = _parse(payload)
        if reply is None or reply.tag != f"{{{NC_NS}}}rpc-reply":
            return False
        if reply.get("message-id", "") != self.pending:
            return False
        self.pending = None
        self.active = reply.find(f"{{{NC_NS}}}ok") is not None
        self.chunked = chunked
        return self.active


class StateWatcher:
    """What to inject and when: changed entries as published, every entry each second."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._sent: dict[str, InterfaceState] = {}
        self._next_sample = 0.0

    def poll(self, now: float) -> list[bytes]:
        """The notifications due at monotonic time `now`; the first call brings a sample."""
        payloads: list[bytes] = []
        published = self._reload()
        sample_due = now >= self._next_sample
        if published is not None:
            current, changed_at_ns = published
            changes = {n: v for n, v in current.items() if self._sent.get(n) != v}
            self._sent = current
            if changes and not sample_due:  # a due sample carries the change anyway
                payloads.append(notification(changes, changed_at_ns))
        if sample_due and self._sent:
            payloads.append(notification(self._sent, time.time_ns()))
            self._next_sample = now + SAMPLE_INTERVAL_S
        return payloads

    def _reload(self) -> tuple[dict[str, InterfaceState], int] | None:
        """The state if the file was replaced since the last look (one stat() otherwise)."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return None
        published = read_state(self.path)
        if published is not None:
            self._stamp = stamp
        return published


def _take_flag(flag: str) -> bool:
    try:
        os.unlink(flag)
    except FileNotFoundError:
        return False
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Relay:
    """Copies messages between our stdin/stdout (the SSH channel) and the child."""

    def __init__(
        self, flag: str, child: subprocess.Popen[bytes], control: str | None = None
    ) -> None:
        assert child.stdin is not None and child.stdout is not None
        self.flag = flag
        self.control = control
        self.router = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(flag))))
        self.held: tuple[bytes, bytes, bool, float] | None = None  # a commit being checked
        self.waiting: list[tuple[bytes, bytes, bool]] = []  # client messages behind it
        self.to_child = child.stdin.fileno()
        self.from_child = child.stdout.fileno()
        self.from_client = sys.stdin.fileno()
        self.to_client = sys.stdout.fileno()
        self.upstream = Deframer()
        self.downstream = Deframer()
        self.subscription = Subscription()
        self.watcher = StateWatcher(os.path.join(os.path.dirname(flag), STATE_FILE))
        self._next_watch = 0.0

    def client_data(self, data: bytes) -> None:
        for message in self.upstream.feed(data):
            if self.held is not None:
                self.waiting.append(message)
            else:
                self._client_message(*message)

    def _client_message(self, raw: bytes, payload: bytes, chunked: bool) -> None:
        self.subscription.request(payload)
        # Cheap tests first: most messages are not commits, and a stat() costs a syscall.
        armed = b"commit" in payload and os.path.exists(self.flag)
        refusal = refusal_for(payload) if armed else None
        if refusal is not None and _take_flag(self.flag):
            _write_all(self.to_client, frame(refusal, chunked))
            return
        if self.control is not None and b"commit" in payload and not self.downstream.broken:
            if b"cancel-commit" in payload and _operation(payload, "cancel-commit"):
                ask_daemon(self.control, self._check_request(None, 0.0))
            elif (hold := commit_hold_s(payload)) is not None:
                self.held = (raw, payload, chunked, hold)
                _write_all(self.to_child, frame(candidate_request(), chunked))
                return
        _write_all(self.to_child, raw)

    def _check_request(self, path: str | None, hold_s: float) -> dict[str, Any]:
        return {"op": "commit-check", "router": self.router, "config": path, "hold_s": hold_s}

    def _decide(self, reply: bytes) -> None:
        """The candidate arrived: forward the held commit if the data plane takes it."""
        assert self.held is not None and self.control is not None
        raw, payload, chunked, hold_s = self.held
        self.held = None
        path = os.path.join(os.path.dirname(self.flag), CHECK_FILE)
        refused = None
        if b"rpc-error" not in reply:  # no candidate to check: netconfd answers the commit
            with open(path, "wb") as out:
                out.write(reply)
            refused = ask_daemon(self.control, self._check_request(path, hold_s))
        found = _operation(payload, "commit")
        if refused is not None and found is not None:
            reason = f"commit failed: the data plane refused it: {refused}"
            _write_all(self.to_client, frame(rpc_error(found[0], reason), chunked))
        else:
            _write_all(self.to_child, raw)
        waiting, self.waiting = self.waiting, []
        for index, message in enumerate(waiting):
            if self.held is not None:  # another commit is held: the rest waits again
                self.waiting.extend(waiting[index:])
                return
            self._client_message(*message)

    def child_data(self, data: bytes) -> None:
        for raw, payload, chunked in self.downstream.feed(data):
            if self.held is not None and is_check_reply(payload):
                self._decide(payload)
                continue
            _write_all(self.to_client, raw)
            if self.subscription.reply(payload, chunked):
                self._next_watch = 0.0  # the current state goes out right after the <ok/>

    def watch(self) -> None:
        """Inject the notifications due now, between two whole messages of netconfd's."""
        if not self.subscription.active or self.downstream.broken:
            return
        now = time.monotonic()
        if now < self._next_watch:
            return
        self._next_watch = now + WATCH_INTERVAL_S
        for payload in self.watcher.poll(now):
            _write_all(self.to_client, frame(payload, self.subscription.chunked))

    def _timeout(self) -> float | None:
        if not self.subscription.active:
            return None
        return max(0.0, self._next_watch - time.monotonic())

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.from_client, selectors.EVENT_READ, self.client_data)
        selector.register(self.from_child, selectors.EVENT_READ, self.child_data)
        while True:
            for key, _ in selector.select(self._timeout()):
                data = os.read(key.fd, 65536)
                if not data:
                    if key.fd == self.from_child:
                        return
                    selector.unregister(key.fd)
                    os.close(self.to_child)
                    continue
                key.data(data)
            self.watch()


def main(argv: list[str]) -> int:
    control = None
    if len(argv) >= 4 and argv[2] == "--control":
        control, argv = argv[3], argv[:2] + argv[4:]
    if len(argv) < 4 or argv[0] != "--flag" or argv[2] != "--":
        sys.stderr.write(
            "usage: netconf_relay.py --flag FILE [--control SOCKET] -- COMMAND [ARGS...]\n"
        )
        return 2
    child = subprocess.Popen(argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))  # reap the child too
    try:
        Relay(argv[1], child, control).run()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
