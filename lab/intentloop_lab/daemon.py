"""The lab daemon: one background process that runs a whole network.

`intentloop lab up` starts it detached; it builds the data plane (a network namespace per
router and per customer site, veths for links and ports, see `dataplane`), starts every
router's management plane on free loopback ports, serves the control socket, and writes
`lab.json` once everything answers — so the file's presence means "ready". SIGTERM (or
SIGINT) stops every router and removes everything it created except its log, so a stopped
lab leaves no process, namespace, socket or directory behind. One flock on `daemon.pid`
keeps two daemons off one state directory.

The event loop owns the fault bookkeeping (no locks needed). Every tick it reads each
router's running config into its device agent (NETCONF routers; gNMI routers apply in their
Set path) and the kernel's interface state and the probes' latencies into the gNMI targets
(or, for routers without gNMI, the state file their NETCONF relay turns into
notifications). A fault is a kernel change, read back and pushed before the command is
answered, so ON_CHANGE subscribers hear about a failed link within milliseconds; slow work
(starting sshd, a NETCONF tamper) runs in threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from intentloop_intents.device import DeviceConfigTree
from intentloop_lab import control, labstate, netplan
from intentloop_lab.dataplane import DataPlane
from intentloop_lab.kernel import CommandError
from intentloop_lab.pki import LabPki
from intentloop_lab.routers import LabRouter
from intentloop_lab.simulation import Faults, TelemetryPublisher
from intentloop_lab.topology import Topology, default_topology, load_topology

log = structlog.get_logger("intentloop_lab.daemon")

TICK_S = 0.2
SETTLE_S = 2.0  # how long a fault may take to show in the kernel's operational state


class LabDaemon:
    def __init__(self, *, topology: Topology, state_dir: Path) -> None:
        self.topology = topology
        self.state_dir = state_dir.absolute()
        self.sim = Faults(topology)
        self.plan = netplan.plan_lab(topology, netplan.new_lab_id())
        self.dataplane = DataPlane(topology, self.plan, self.state_dir)
        self.publisher = TelemetryPublisher()
        self.routers: dict[str, LabRouter] = {}  # filled by run(): it touches the disk
        self._busy: set[str] = set()  # routers being stopped or started: leave them alone
        self._stopped: set[str] = set()  # routers a person stopped on purpose
        self._refused: dict[str, DeviceConfigTree] = {}  # configs the kernel would not take
        # NETCONF commits the kernel took before netconfd made them running: (tree, until)
        self._trials: dict[str, tuple[DeviceConfigTree, float]] = {}
        self._stop = asyncio.Event()

    # --- the whole life -----------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        server: asyncio.AbstractServer | None = None
        try:
            await asyncio.to_thread(self.dataplane.build)
            self.dataplane.attach(loop)
            await self._start_all()
            self._refresh()
            await self._settle(self.dataplane.settled)
            server = await self._serve()
            self._write_state()
            log.info("lab.ready", topology=self.topology.name, routers=len(self.routers))
            await self._tick_until_stopped()
            return 0
        except Exception as exc:
            log.error("lab.failed", error=str(exc))
            return 1
        finally:
            await self._shutdown(server)

    async def _start_all(self) -> None:
        """Start every router at once; on a failure, wait for the others before giving up
        (shutdown must not race a router that is still starting)."""
        pki = LabPki(self.state_dir / labstate.PKI_DIR)
        for spec in self.topology.routers:
            self.routers[spec.name] = LabRouter(
                router=spec,
                topology=self.topology,
                workdir=self.state_dir / labstate.ROUTERS_DIR / spec.name,
                pki=pki,
                control=self.state_dir / labstate.SOCKET_FILE,
            )
        results = await asyncio.gather(
            *(asyncio.to_thread(r.start) for r in self.routers.values()), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} router(s) did not start: {failures[0]}")
        for name, router in self.routers.items():
            router.attach_agent(self.dataplane.agents[name])

    async def _settle(self, done: Callable[[], bool]) -> None:
        """Tick until `done()` (the kernel caught up with a change), at most SETTLE_S."""
        deadline = asyncio.get_running_loop().time() + SETTLE_S
        while not done() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
            self._publish()

    async def _serve(self) -> asyncio.AbstractServer:
        path = self.state_dir / labstate.SOCKET_FILE
        path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)  # the socket is 0600 from birth
        try:
            return await asyncio.start_unix_server(
                functools.partial(control.serve_client, dispatch=self._dispatch), path=str(path)
            )
        finally:
            os.umask(old_umask)

    async def _tick_until_stopped(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK_S)
            try:
                self._refresh()
            except Exception as exc:  # one bad tick must not take the whole lab down
                log.error("lab.tick.failed", error=repr(exc))

    async def _shutdown(self, server: asyncio.AbstractServer | None) -> None:
        log.info("lab.stopping")
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        (self.state_dir / labstate.SOCKET_FILE).unlink(missing_ok=True)
        (self.state_dir / labstate.STATE_FILE).unlink(missing_ok=True)
        results = await asyncio.gather(
            *(asyncio.to_thread(r.destroy) for r in self.routers.values()),
            return_exceptions=True,
        )
        for name, result in zip(self.routers, results, strict=True):
            if isinstance(result, BaseException):
                log.error("lab.router.destroy.failed", router=name, error=str(result))
        try:
            await asyncio.to_thread(self.dataplane.destroy)
        except Exception as exc:
            log.error("lab.netns.destroy.failed", error=str(exc))
        for leftover in (labstate.ROUTERS_DIR, labstate.PKI_DIR):
            shutil.rmtree(self.state_dir / leftover, ignore_errors=True)
        log.info("lab.stopped")

    # --- data plane ---------------------------------------------------------------------
    def _refresh(self) -> None:
        """Forward configs, notice crashed routers, push the kernel's state into the targets."""
        for name, router in self.routers.items():
            if name in self._busy:
                continue
            alive = router.running
            if self.sim.is_running(name) != alive and name not in self._stopped:
                log.warning("lab.router.crashed" if not alive else "lab.router.back", router=name)
                self.sim.set_running(name, running=alive)
                self.dataplane.apply_faults(self.sim, [name])
            if alive:
                self._forward(router)
        self._publish()

    def _forward(self, router: LabRouter) -> None:
        if router.forwards_in_commit:
            return  # its commits reach the agent themselves; a poll could only race them
        tree = router.running_tree()
        trial = self._trials.get(router.name)
        if trial is not None:
            if tree != trial[0] and time.monotonic() < trial[1]:
                return  # a checked commit the kernel carries already, not yet in running
            del self._trials[router.name]
        if self._refused.get(router.name) == tree:
            return  # refused already: wait for the next change rather than retry each tick
        try:
            self.dataplane.agents[router.name].apply(tree)
        except CommandError as exc:  # e.g. a tamper straight into running: keep what ran
            self._refused[router.name] = tree
            log.warning("lab.agent.refused", router=router.name, error=str(exc))
            return
        self._refused.pop(router.name, None)

    def _publish(self) -> None:
        sinks = {n: sink for n, r in self.routers.items() if (sink := r.telemetry_sink) is not None}
        self.publisher.publish(self.dataplane.telemetry(list(self.routers)), sinks)
        for router in self.routers.values():
            if router.state_file is not None:  # routers whose telemetry is NETCONF
                router.state_file.flush()

    def _write_state(self) -> None:
        state = labstate.LabState(
            topology=self.topology.name,
            daemon_pid=os.getpid(),
            state_dir=self.state_dir,
            socket=self.state_dir / labstate.SOCKET_FILE,
            log_file=self.state_dir / labstate.LOG_FILE,
            ca_file=self.state_dir / labstate.PKI_DIR / "ca.crt",
            routers=tuple(
                r.info(r.workdir / "credentials").model_copy(
                    update={"netns": self.plan.routers[r.name]}
                )
                for r in self.routers.values()
            ),
            links=labstate.link_infos(self.topology),
            lab_id=self.plan.lab_id,
            sites=self.dataplane.site_infos(),
        )
        labstate.write_state(self.state_dir, state)

    # --- control API --------------------------------------------------------------------
    async def _dispatch(self, request: control.AnyRequest) -> Any:
        if isinstance(request, control.LinkAdmin):
            link = self.sim.set_link_admin(request.a, request.b, up=request.up)
            self.dataplane.apply_faults(self.sim, [link.a, link.b])
            await self._settle(lambda: self._link_status(link.name)["oper_up"] == request.up)
            log.info("lab.link.admin", link=link.name, up=request.up)
            return self._link_status(link.name)
        if isinstance(request, control.LinkLatency):
            link = self.sim.inject_latency(request.a, request.b, request.extra_ms)
            self.dataplane.set_delay(self.sim, link.a, link.b)
            self._publish()
            log.info("lab.link.latency", link=link.name, extra_ms=request.extra_ms)
            return self._link_status(link.name)
        if isinstance(request, control.DeviceAction):
            return await self._device(request.action, request.router)
        if isinstance(request, control.CommitCheck):
            return await self._commit_check(request)
        return self.status()

    async def _commit_check(self, request: control.CommitCheck) -> dict[str, Any]:
        """Apply a NETCONF router's candidate before its commit (see `netconf_relay`)."""
        router = self.routers.get(request.router)
        if router is None or router.netconf is None:
            raise KeyError(f"no NETCONF router {request.router!r}")
        if request.config is None:
            self._trials.pop(router.name, None)  # cancelled: the next tick applies running
            return {"router": router.name, "held": False}
        path = Path(request.config).resolve()
        if not path.is_relative_to(router.workdir.resolve()):
            raise ValueError(f"{request.config}: not in {router.name}'s directory")
        tree = router.parse_running(await asyncio.to_thread(path.read_bytes))
        try:
            await asyncio.to_thread(self.dataplane.agents[router.name].apply, tree)
        except CommandError as exc:
            raise RuntimeError(str(exc)) from None
        self._trials[router.name] = (tree, time.monotonic() + request.hold_s)
        return {"router": router.name, "held": True}

    async def _device(self, action: str, name: str) -> dict[str, Any]:
        router = self.routers.get(name)
        if router is None:
            raise KeyError(f"no router {name!r} in topology {self.topology.name!r}")
        if name in self._busy:
            raise RuntimeError(f"{name} is busy stopping or starting; try again")
        if action == "stop":
            await self._stop_router(router)
        elif action == "start":
            await self._start_router(router)
        elif action == "tamper":
            await asyncio.to_thread(router.tamper)
        else:
            await asyncio.to_thread(router.reject_next_commit)
        log.info("lab.device." + action, router=name)
        return self._router_status(router)

    async def _stop_router(self, router: LabRouter) -> None:
        self._busy.add(router.name)
        self._stopped.add(router.name)
        try:
            # Far ends go down before the processes do, as when a router loses power.
            self.sim.set_running(router.name, running=False)
            self.dataplane.apply_faults(self.sim, [router.name])
            self._publish()
            await asyncio.to_thread(router.stop)
        finally:
            self._busy.discard(router.name)
        self._write_state()

    async def _start_router(self, router: LabRouter) -> None:
        self._busy.add(router.name)
        try:
            await asyncio.to_thread(router.start)
        finally:
            self._busy.discard(router.name)
        self._stopped.discard(router.name)
        self.sim.set_running(router.name, running=True)
        self.dataplane.apply_faults(self.sim, [router.name])
        self.publisher.forget(router.name)
        self._refresh()
        self._write_state()

    # --- status -------------------------------------------------------------------------
    def _link_status(self, name: str) -> dict[str, Any]:
        return next(s for s in self.status()["links"] if s["name"] == name)

    def _router_status(self, router: LabRouter) -> dict[str, Any]:
        return {
            "name": router.name,
            "platform": router.spec.platform,
            "running": router.running,
            "netconf_port": router.netconf.port if router.netconf is not None else None,
            "gnmi_port": router.gnmi.port if router.gnmi is not None else None,
        }

    def status(self) -> dict[str, Any]:
        return {
            "topology": self.topology.name,
            "routers": [self._router_status(r) for r in self.routers.values()],
            "links": self.dataplane.link_status(self.sim),
        }


def _configure_logging() -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intentloop-lab-daemon")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--topology", type=Path, default=None)
    args = parser.parse_args(argv)
    _configure_logging()
    state_dir: Path = args.state_dir.absolute()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(state_dir / "daemon.pid", "a+", encoding="ascii") as pid_file:
        try:
            fcntl.flock(pid_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.error("lab.already_running", state_dir=str(state_dir))
            return 2
        pid_file.truncate(0)
        pid_file.write(f"{os.getpid()}\n")
        pid_file.flush()
        try:
            topology = load_topology(args.topology) if args.topology else default_topology()
            return asyncio.run(LabDaemon(topology=topology, state_dir=state_dir).run())
        finally:
            (state_dir / "daemon.pid").unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
