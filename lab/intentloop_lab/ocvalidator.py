"""The lab's OpenConfig validator: ygot's generated schema, behind a pipe.

`hack/ocvalidate` (a small Go program of the project's: `github.com/openconfig/ygot` v0.36.0,
its generated `exampleoc` OpenConfig schema and `ytypes` validation) reads one RFC 7951
document per line and answers one verdict per line. One process serves every target of the
lab process, so a Set costs a pipe round trip, not a process start.

`exampleoc` has no `openconfig-qos`: the `/qos` subtree is not sent to it, and leafref
targets are not checked (see hack/ocvalidate/main.go); the project's tests validate both
with `yanglint` against the published modules.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

YGOT_VERSION = "v0.36.0"
NOT_VALIDATED = ("openconfig-qos:qos",)
_HACK = Path(__file__).resolve().parents[2] / "hack"
_BUILD_SCRIPT = _HACK / "build-ocvalidate.sh"
_SOURCES = _HACK / "ocvalidate"


class ValidatorUnavailable(RuntimeError):
    """The validator binary is missing and cannot be built here."""


def binary() -> Path:
    """The validator, built (and cached by version and source) on first use when missing."""
    override = os.environ.get("INTENTLOOP_OCVALIDATE")
    if override:
        return Path(override)
    if not _BUILD_SCRIPT.is_file():
        raise ValidatorUnavailable(
            "the OpenConfig validator's sources (hack/ocvalidate) are not here; "
            "set INTENTLOOP_OCVALIDATE to a built ocvalidate"
        )
    cache = Path(os.environ.get("INTENTLOOP_CACHE", Path.home() / ".cache" / "intentloop"))
    built = cache / "ocvalidate" / f"ygot-{YGOT_VERSION}-{_source_hash()}" / "ocvalidate"
    if built.is_file():
        return built
    done = subprocess.run(["bash", str(_BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ValidatorUnavailable(f"building the OpenConfig validator failed: {done.stderr}")
    return Path(done.stdout.strip().splitlines()[-1])


def _source_hash() -> str:
    """The build script's cache key: sha256 of go.mod, go.sum and main.go, 12 hex digits."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((_SOURCES / name).read_bytes())
    return digest.hexdigest()[:12]


class OcValidator:
    """One long-lived `ocvalidate` process; thread-safe, restarted if it dies."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def check(self, document: Mapping[str, Any]) -> str | None:
        """None when `document` is valid OpenConfig, else the validator's message."""
        payload = {k: v for k, v in document.items() if k not in NOT_VALIDATED}
        line = json.dumps(payload, separators=(",", ":")) + "\n"
        with self._lock:
            for attempt in (1, 2):
                process = self._running()
                assert process.stdin is not None and process.stdout is not None
                try:
                    process.stdin.write(line)
                    process.stdin.flush()
                    answer = process.stdout.readline()
                except (BrokenPipeError, OSError):
                    answer = ""
                if answer:
                    verdict = json.loads(answer)
                    return None if verdict.get("ok") else str(verdict.get("error", "invalid"))
                self._stop_locked()
                if attempt == 2:
                    raise ValidatorUnavailable("the OpenConfig validator exited")
        return None  # unreachable

    def close(self) -> None:
        with self._lock:
            self._stop_locked()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [str(self._path or binary())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
        return self._process

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


@functools.cache
def shared() -> OcValidator:
    """The validator every OpenConfig target of this process uses (stopped at exit)."""
    validator = OcValidator()
    atexit.register(validator.close)
    return validator
