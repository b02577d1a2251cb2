"""Starting and stopping the lab daemon, for `lab up` and `lab down`.

`start` spawns the daemon detached (its own session, output to `lab.log`) and returns once
it answers on its control socket; `stop` sends SIGTERM and waits. Both hold an flock on the
state directory, so two `lab up` at once start one daemon, not two. After a daemon that was
killed outright, `stop` (and the next `start`) end the routers' processes it left behind —
found by the state directory in their command lines, a path no stranger's process names —
and delete its network namespaces, found by the prefix it recorded before creating them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from intentloop_lab import control, dataplane, labstate

UP_TIMEOUT_S = 90.0
DOWN_TIMEOUT_S = 30.0


class LabStartError(RuntimeError):
    """The daemon did not come up; the message says why (from its log when it can)."""


def start(state_dir: Path, topology: Path | None) -> bool:
    """Bring the lab up; False when one already runs here (then it is left alone)."""
    try:
        dataplane.check_privileges()
    except dataplane.PrivilegeError as exc:
        raise LabStartError(f"cannot start the lab: {exc}") from None
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(state_dir):
        running = daemon_pid(state_dir)
        if running is not None:  # up, or still starting: never start a second one
            error = _wait_ready(state_dir, lambda: None if labstate.pid_alive(running) else 1)
            if error:
                raise LabStartError(
                    f"lab daemon {running} in {state_dir} does not answer: {error}; "
                    "try `intentloop lab down`"
                )
            return False
        _clean_leftovers(state_dir)
        process = _spawn_daemon(state_dir, topology)
        error = _wait_ready(state_dir, process.poll)
        if error:
            reason = _failure(state_dir / labstate.LOG_FILE) or error
            _stop(state_dir, pid=process.pid)
            raise LabStartError(f"lab did not come up: {reason}")
        return True


def stop(state_dir: Path) -> bool:
    """Bring the lab down; False when nothing was running here."""
    if not state_dir.is_dir():
        return False
    with _locked(state_dir):
        pid = daemon_pid(state_dir)
        traces = (
            labstate.STATE_FILE,
            labstate.ROUTERS_DIR,
            labstate.SOCKET_FILE,
            "daemon.pid",
            dataplane.PREFIX_FILE,
        )
        if pid is None and not any((state_dir / name).exists() for name in traces):
            return False
        _stop(state_dir, pid=pid)
        return True


def answering(state_dir: Path) -> bool:
    state = labstate.read_state(state_dir)
    if state is None or not labstate.pid_alive(state.daemon_pid):
        return False
    try:
        control.call(state.socket, control.Status(), timeout_s=5)
    except control.ControlError:
        return False
    return True


def daemon_pid(state_dir: Path) -> int | None:
    """The live daemon of this state directory, if any."""
    try:
        pid = int((state_dir / "daemon.pid").read_text().strip() or 0)
    except (OSError, ValueError):
        state = labstate.read_state(state_dir)
        pid = state.daemon_pid if state is not None else 0
    return pid if pid and labstate.pid_alive(pid) else None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on the directory itself (no lock file left behind)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _spawn_daemon(state_dir: Path, topology: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "intentloop_lab.daemon", "--state-dir", str(state_dir)]
    if topology is not None:
        command += ["--topology", str(topology)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*_source_roots(), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    with open(state_dir / labstate.LOG_FILE, "wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the terminal that ran `lab up`
        )


def _source_roots() -> list[str]:
    """Where the lab and the domain core are importable from (editable install or not)."""
    import intentloop_intents
    import intentloop_lab

    return [
        str(Path(package.__file__ or "").resolve().parents[1])
        for package in (intentloop_lab, intentloop_intents)
    ]


def _wait_ready(state_dir: Path, exit_code: Callable[[], int | None]) -> str:
    """'' once the daemon answers; otherwise why it will not."""
    deadline = time.monotonic() + UP_TIMEOUT_S
    while time.monotonic() < deadline:
        code = exit_code()
        if code is not None:
            return f"the lab daemon exited with code {code}"
        if answering(state_dir):
            return ""
        time.sleep(0.05)
    return f"no answer within {UP_TIMEOUT_S:.0f}s"


def _stop(state_dir: Path, *, pid: int | None) -> None:
    """SIGTERM the daemon and wait; then make sure none of its children outlived it."""
    if pid is not None and labstate.pid_alive(pid):
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT_S
        while labstate.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if labstate.pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    _clean_leftovers(state_dir)


def _clean_leftovers(state_dir: Path) -> None:
    """After a daemon that died hard: stop its routers' processes, remove its files."""
    if daemon_pid(state_dir) is not None:
        return
    orphans = labstate.processes_mentioning(state_dir / labstate.ROUTERS_DIR)
    for pid in orphans:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while any(labstate.pid_alive(p) for p in orphans) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in orphans:
        if labstate.pid_alive(pid):
            _signal(pid, signal.SIGKILL)
    dataplane.remove_recorded(state_dir)  # its namespaces, by the prefix it recorded
    for name in (labstate.STATE_FILE, labstate.SOCKET_FILE, "daemon.pid"):
        (state_dir / name).unlink(missing_ok=True)
    for name in (labstate.ROUTERS_DIR, labstate.PKI_DIR):
        shutil.rmtree(state_dir / name, ignore_errors=True)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _failure(log: Path) -> str:
    """The reason the daemon logged for giving up, if it did."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "lab.failed":
            return str(event.get("error", ""))
    return lines[-1] if lines else ""
