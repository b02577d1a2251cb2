"""gnmi_cli, the reference gNMI client of openconfig/gnmi, driven from tests.

The lab's gNMI service and the operator's adapter share our reading of the specification;
a client whose protocol stack we did not write catches what we both got wrong. Requests go
in as text protos (`-proto`), replies come back as text protos and are parsed into the same
message classes the lab serves, so a test asserts on fields, not on output formatting.

The binary is built once per version by `hack/build-gnmi-cli.sh` (the Makefile's `gnmi-cli`
target, part of `make setup`); `INTENTLOOP_GNMI_CLI` points at another build. Credentials
reach gnmi_cli through its own `-with_user_pass` flag, which reads GNMI_USER/GNMI_PASS from
its environment, so they never appear on a command line.
"""

from __future__ import annotations

import functools
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from google.protobuf import text_format
from pygnmi.spec.v080 import gnmi_pb2

ROOT = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"rpc error: code = (\w+) desc = (.*)", re.DOTALL)
# gRPC's Go names for the codes the tests meet, as grpc.StatusCode names them.
_GO_CODES = {
    "InvalidArgument": "INVALID_ARGUMENT",
    "NotFound": "NOT_FOUND",
    "Unimplemented": "UNIMPLEMENTED",
    "FailedPrecondition": "FAILED_PRECONDITION",
    "Unauthenticated": "UNAUTHENTICATED",
    "Aborted": "ABORTED",
}


class GnmiCliError(Exception):
    """gnmi_cli reported an RPC error; `code` is the gRPC status name (`NOT_FOUND`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@functools.cache
def binary() -> Path:
    """The gnmi_cli binary: INTENTLOOP_GNMI_CLI, or the project's cached build."""
    override = os.environ.get("INTENTLOOP_GNMI_CLI")
    if override:
        return Path(override)
    built = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-gnmi-cli.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])


def _error(output: str) -> GnmiCliError:
    match = _CODE.search(output)
    if match is None:
        return GnmiCliError("UNKNOWN", output.strip())
    return GnmiCliError(_GO_CODES.get(match[1], match[1]), match[2].strip())


def _parse(text: str, message: Any) -> Any:
    # gnmi_cli carries newer protos than pygnmi's; fields we do not know are not asserted on.
    text_format.Parse(text, message, allow_unknown_field=True)
    return message


@dataclass(frozen=True)
class GnmiCli:
    """One target as gnmi_cli dials it: TLS verified against the lab CA, user/password."""

    address: str
    ca_file: Path
    username: str
    password: str
    timeout_s: float = 20.0

    def _command(self, *args: str) -> list[str]:
        return [
            str(binary()),
            "-address",
            self.address,
            "-ca_crt",
            str(self.ca_file),
            "-with_user_pass",
            "-timeout",
            f"{int(self.timeout_s)}s",
            *args,
        ]

    def _env(self) -> dict[str, str]:
        return {"GNMI_USER": self.username, "GNMI_PASS": self.password, "PATH": os.defpath}

    def _unary(self, flag: str, request: str) -> str:
        done = subprocess.run(
            self._command(flag, "-proto", request),
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=self.timeout_s * 2,
        )
        if done.returncode != 0:
            raise _error(done.stdout + done.stderr)
        return done.stdout

    def get(self, request: str) -> Any:
        """A Get from a `gnmi.GetRequest` text proto; the parsed GetResponse."""
        return _parse(self._unary("-get", request), gnmi_pb2.GetResponse())

    def set(self, request: str) -> Any:
        """A Set from a `gnmi.SetRequest` text proto; the parsed SetResponse."""
        return _parse(self._unary("-set", request), gnmi_pb2.SetResponse())

    def capabilities(self) -> Any:
        return _parse(self._unary("-capabilities", ""), gnmi_pb2.CapabilityResponse())

    def subscribe(self, request: str) -> Subscription:
        """Open a Subscribe from a `gnmi.SubscribeRequest` text proto (close it when done)."""
        # gRPC's own logging, kept out of the replies; the Subscription closes it.
        log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        process = subprocess.Popen(
            self._command("-display_type", "proto", "-proto", request),
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        return Subscription(process, self.timeout_s, log)


class Subscription:
    """The responses of one gnmi_cli Subscribe, as SubscribeResponse messages in order."""

    def __init__(self, process: subprocess.Popen[str], timeout_s: float, log: IO[str]) -> None:
        self._process = process
        self._log = log
        self._timeout_s = timeout_s
        self._responses: queue.Queue[Any] = queue.Queue()
        self.received: list[Any] = []
        self.output: list[str] = []  # what gnmi_cli printed that is not a response
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        block: list[str] = []
        for line in self._process.stdout:
            if line.strip():
                block.append(line)
                continue
            if block:  # gnmi_cli ends every response with a blank line
                self._take("".join(block))
                block = []
        if block:
            self._take("".join(block))
        self._responses.put(None)

    def _take(self, text: str) -> None:
        try:
            self._responses.put(_parse(text, gnmi_pb2.SubscribeResponse()))
        except text_format.ParseError:
            self.output.append(text)

    def next(self) -> Any:
        """The next response; raises GnmiCliError if the stream ended with an error."""
        try:
            response = self._responses.get(timeout=self._timeout_s)
        except queue.Empty:
            raise AssertionError(f"no response within {self._timeout_s}s") from None
        if response is None:
            self._responses.put(None)  # stay ended for later calls
            self._process.wait(timeout=self._timeout_s)
            self._log.seek(0)
            printed = "".join(self.output) or self._log.read()
            raise _error(printed) if printed else EOFError("stream ended")
        self.received.append(response)
        return response

    def until(self, predicate: Callable[[Any], bool]) -> Any:
        """Read until a response satisfies `predicate` (a wait for a condition, bounded)."""
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            response = self.next()
            if predicate(response):
                return response
        raise AssertionError(f"no matching response within {self._timeout_s}s")

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait(timeout=self._timeout_s)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Any]:
        while True:
            yield self.next()
