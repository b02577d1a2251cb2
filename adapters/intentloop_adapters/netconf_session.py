"""Opening a verified NETCONF-over-SSH session, and turning ncclient's failures into ours.

Host-key verification is not optional: ncclient's `hostkey_b64` makes the SSH handshake
accept exactly the key the Device resource names (and negotiate only that key type), and
its unknown-host callback always says no, so a device presenting any other key is refused
before authentication. The client key may come from a Secret as PEM text; ncclient only
reads keys from files, so PEM is written to a private temporary file for the handshake and
removed at once.

Everything here blocks; the adapter runs it in a worker thread.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ncclient import manager
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport import (
    AuthenticationError,
    NetconfBase,
    SSHUnknownHostError,
    TransportError,
)

from intentloop_adapters.errors import DeviceError, PermanentDeviceError, TransientDeviceError
from intentloop_intents.device import xml as device_xml

# ncclient queues each request for its transport thread, which writes the queue only between
# select() calls that wait up to `ncclient.transport.session.TICK` (100 ms) for input: every
# RPC would wait for that tick. Lowering the tick (the usual fix) makes every open session
# wake up hundreds of times a second — CPU that ten devices on two cores cannot spare. So
# each session's requests are framed (RFC 6242) and written by the calling thread instead;
# replies still arrive through ncclient's thread, which wakes on input.
_EOM = b"]]>]]>"


def _send_immediately(session: Any) -> None:
    """Replace the session's queueing `send` with a direct, framed write to the channel."""
    transport = session._session  # ncclient's SSHSession (ncclient is pinned: 0.7.1)
    channel = transport._channel

    def send(message: str) -> None:
        if not transport.connected:
            raise TransportError("Not connected to NETCONF server")
        data = message.encode()
        if transport._base == NetconfBase.BASE_11:
            data = b"\n#%d\n%s\n##\n" % (len(data), data)
        else:
            data += _EOM
        channel.sendall(data)

    transport.send = send


# error-tags (RFC 6241 appendix A) that mean "someone else is busy, try again".
_TRANSIENT_TAGS = frozenset({"lock-denied", "in-use", "resource-denied"})
_KEY_TYPES = frozenset(
    {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"}
)


@dataclass(frozen=True)
class KnownHostKey:
    """A device's SSH public host key, as one `authorized_keys`-style line."""

    key_type: str
    blob_b64: str

    @classmethod
    def parse(cls, line: str) -> KnownHostKey:
        parts = line.split()
        if len(parts) < 2 or parts[0] not in _KEY_TYPES:
            raise ValueError("known host key must look like 'ssh-ed25519 AAAA...'")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise ValueError("known host key is not valid base64") from None
        embedded = blob[4 : 4 + int.from_bytes(blob[:4], "big")].decode(errors="replace")
        if embedded != parts[0]:
            raise ValueError(f"known host key says {parts[0]} but holds a {embedded} key")
        return cls(key_type=parts[0], blob_b64=parts[1])


@dataclass(frozen=True)
class SessionParams:
    host: str
    port: int
    username: str
    private_key: str
    known_host_key: KnownHostKey
    connect_timeout_s: float
    rpc_timeout_s: float


@contextmanager
def _key_file(private_key: str) -> Iterator[str]:
    """A path to the client key: the given path, or a 0600 temporary file holding the PEM."""
    if not private_key.lstrip().startswith("-----BEGIN"):
        yield private_key
        return
    directory = tempfile.mkdtemp(prefix="intentloop-key-")
    path = os.path.join(directory, "id")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(private_key)
        yield path
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)


def _refuse_unknown_host(_host: str, _fingerprint: str) -> bool:
    return False


def open_session(params: SessionParams) -> Any:
    """A connected ncclient Manager, or raise (host key mismatch is raised as SSH error)."""
    with _key_file(params.private_key) as key_path:
        session = manager.connect(
            host=params.host,
            port=params.port,
            username=params.username,
            key_filename=key_path,
            hostkey_verify=True,
            hostkey_b64=params.known_host_key.blob_b64,
            unknown_host_cb=_refuse_unknown_host,
            allow_agent=False,
            look_for_keys=False,
            timeout=params.connect_timeout_s,
        )
    session.timeout = params.rpc_timeout_s
    _send_immediately(session)
    return session


def device_error(device: str, exc: BaseException) -> DeviceError:
    """Our error for one of ncclient's: the device's own words, retryable or not."""
    if isinstance(exc, DeviceError):
        return exc
    if isinstance(exc, RPCError):
        return _rpc_error(device, exc)
    if isinstance(exc, device_xml.DeviceXmlError):
        return PermanentDeviceError(device, str(exc))
    if isinstance(exc, SSHUnknownHostError):
        return PermanentDeviceError(
            device, f"SSH host key does not match the known host key ({exc})"
        )
    if isinstance(exc, AuthenticationError):
        return PermanentDeviceError(device, f"SSH authentication failed: {exc}")
    if isinstance(exc, TimeoutExpiredError):
        return TransientDeviceError(device, f"no reply in time: {exc}")
    return TransientDeviceError(device, f"{type(exc).__name__}: {exc}")


def _rpc_error(device: str, exc: RPCError) -> DeviceError:
    errors = exc.errlist or [exc]
    parts = []
    for error in errors:
        text = (error.message or "").strip() or str(error.to_dict())
        where = f" at {error.path.strip()}" if error.path else ""
        parts.append(f"{text} [{error.tag}]{where}")
    message = "; ".join(parts)
    if any(error.tag in _TRANSIENT_TAGS for error in errors):
        return TransientDeviceError(device, message)
    return PermanentDeviceError(device, message)
