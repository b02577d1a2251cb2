"""The lab router's SSH `netconf` subsystem: a byte relay to netconfd with a fault switch.

sshd runs this per session instead of `netconf-subsystem` directly; it runs that program as
a child and copies whole NETCONF messages both ways. While the flag file exists, the next
`<commit>` is not forwarded: the relay answers it with an `<rpc-error>`, the way a router
with a platform bug refuses a commit, and removes the flag (only one session wins it).

Messages are forwarded whole (never split), so an injected reply cannot land inside a
message of netconfd's. Both framings are understood: end-of-message `]]>]]>` (hello and
base:1.0) and chunked framing (base:1.1, RFC 6242), recognised per message by its `\\n#`.
Standard library only, and lxml loaded only when the flag is set, so a session starts fast.
Run as a script: `python -I netconf_relay.py --flag FILE -- netconf-subsystem ARGS...`.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
from typing import Any

EOM = b"]]>]]>"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
_CHUNK = re.compile(rb"\n#(?:([1-9][0-9]{0,9})\n|#\n)")
_CHUNK_HEADER_MAX = 13
REFUSAL = "commit failed: configuration daemon reported an internal error (lab fault switch)"


class Deframer:
    """Cuts a NETCONF byte stream into whole messages: (raw bytes, payload, chunked?).

    On a stream it cannot frame it stops framing and hands bytes on as they come: the relay
    must never be the reason a session breaks.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._broken = False

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


def refusal_for(payload: bytes) -> bytes | None:
    """The rpc-error reply if `payload` is an `<rpc>` whose operation is `<commit>`."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        rpc = etree.fromstring(payload, parser)
    except etree.XMLSyntaxError:
        return None
    operation = next(iter(rpc), None)
    if rpc.tag != f"{{{NC_NS}}}rpc" or operation is None or operation.tag != f"{{{NC_NS}}}commit":
        return None
    default_ns: dict[Any, str] = {None: NC_NS}
    reply = etree.Element(f"{{{NC_NS}}}rpc-reply", nsmap=default_ns)
    for name, value in rpc.attrib.items():
        reply.set(name, value)
    error = etree.SubElement(reply, f"{{{NC_NS}}}rpc-error")
    for tag, text in (
        ("error-type", "application"),
        ("error-tag", "operation-failed"),
        ("error-severity", "error"),
        ("error-message", REFUSAL),
    ):
        etree.SubElement(error, f"{{{NC_NS}}}{tag}").text = text
    return etree.tostring(reply, xml_declaration=True, encoding="UTF-8")


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

    def __init__(self, flag: str, child: subprocess.Popen[bytes]) -> None:
        assert child.stdin is not None and child.stdout is not None
        self.flag = flag
        self.to_child = child.stdin.fileno()
        self.from_child = child.stdout.fileno()
        self.from_client = sys.stdin.fileno()
        self.to_client = sys.stdout.fileno()
        self.upstream = Deframer()
        self.downstream = Deframer()

    def client_data(self, data: bytes) -> None:
        for raw, payload, chunked in self.upstream.feed(data):
            # Cheap tests first: most messages are not commits, and a stat() costs a syscall.
            armed = b"commit" in payload and os.path.exists(self.flag)
            refusal = refusal_for(payload) if armed else None
            if refusal is not None and _take_flag(self.flag):
                _write_all(self.to_client, frame(refusal, chunked))
            else:
                _write_all(self.to_child, raw)

    def child_data(self, data: bytes) -> None:
        for raw, _payload, _chunked in self.downstream.feed(data):
            _write_all(self.to_client, raw)

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.from_client, selectors.EVENT_READ, self.client_data)
        selector.register(self.from_child, selectors.EVENT_READ, self.child_data)
        while True:
            for key, _ in selector.select():
                data = os.read(key.fd, 65536)
                if not data:
                    if key.fd == self.from_child:
                        return
                    selector.unregister(key.fd)
                    os.close(self.to_child)
                    continue
                key.data(data)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[0] != "--flag" or argv[2] != "--":
        sys.stderr.write("usage: netconf_relay.py --flag FILE -- COMMAND [ARGS...]\n")
        return 2
    child = subprocess.Popen(argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))  # reap the child too
    try:
        Relay(argv[1], child).run()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        child.kill()
        child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
