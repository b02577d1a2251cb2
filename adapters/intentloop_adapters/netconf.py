"""A device reached over NETCONF (RFC 6241) with candidate and confirmed commit.

A change goes: lock candidate → edit-config with only what differs → `commit confirmed`
with a `persist` token → read back → confirming commit → unlock. Until it is confirmed the
device itself undoes the change when the timeout passes, so a controller that dies halfway
cannot leave a half-applied network behind; the persist token lets any later session
confirm or cancel it. Rollback works from every phase and ends by comparing running with
the configuration saved at stage time (re-applying it if needed), so a commit whose reply
was lost, a confirm that came too late, or an already confirmed device all end where they
started.

ncclient blocks, so every device gets one worker thread: calls to one device run in order,
calls to different devices in parallel. (`asyncio.to_thread` shares the default pool of
cpu+4 threads, which would cap a transaction's parallelism at 6 devices on this machine.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog
from ncclient.operations import RPCError

from intentloop_adapters import netconf_notifications, netconf_session, netconf_steps
from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_adapters.protocol import DeviceCapabilities, TelemetryUpdate
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device import xml as device_xml

T = TypeVar("T")
_NOTIFICATION_POLL_S = 0.5


class NetconfAdapter:
    """`DeviceAdapter` over NETCONF/SSH, verifying the device's SSH host key."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        username: str,
        private_key: str,
        known_host_key: str,
        connect_timeout_s: float = 10.0,
        rpc_timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self._params = netconf_session.SessionParams(
            host=host,
            port=port,
            username=username,
            private_key=private_key,
            known_host_key=netconf_session.KnownHostKey.parse(known_host_key),
            connect_timeout_s=connect_timeout_s,
            rpc_timeout_s=rpc_timeout_s,
        )
        self._session: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._change: netconf_steps.Change | None = None
        self._reads = netconf_steps.read_cache()
        self._settled_session: Any = None  # the session whose last change ended confirmed
        self._log = structlog.get_logger("intentloop.adapters.netconf").bind(device=name)

    # -- plumbing ----------------------------------------------------------------------
    async def _run(self, work: Callable[[Any], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"netconf-{self.name}")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[Any], T]) -> T:
        try:
            if self._session is None or not self._session.connected:
                self._session = netconf_session.open_session(self._params)
            return work(self._session)
        except Exception as exc:
            error = netconf_session.device_error(self.name, exc)
            if isinstance(error, TransientDeviceError) and not isinstance(exc, RPCError):
                self._drop_session()  # the transport is suspect: reconnect on the next call
            raise error from exc

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to save
                session.close_session()

    async def connect(self) -> None:
        await self._run(lambda _session: None)
        self._log.debug("netconf.connect.done")

    async def close(self) -> None:
        """Close the session (a pending confirmed commit then expires on the device)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(executor, self._drop_session)
            executor.shutdown(wait=False)

    # -- reading -----------------------------------------------------------------------
    async def capabilities(self) -> DeviceCapabilities:
        return await self._run(netconf_steps.capabilities)

    async def get_config(self) -> DeviceConfigTree:
        return await self._run(lambda session: netconf_steps.read_running(session, self._reads))

    async def native_diff(self, desired: DeviceConfigTree) -> str:
        def work(session: Any) -> str:
            edit = device_xml.minimal_edit(netconf_steps.read_running(session), desired)
            return "" if edit is None else device_xml.to_text(edit)

        return await self._run(work)

    # -- changing ----------------------------------------------------------------------
    async def stage(self, desired: DeviceConfigTree) -> str:
        if self._change is not None and self._change.phase != "confirmed":
            raise PermanentDeviceError(self.name, "a change is already in flight; roll it back")
        self._change = None  # a confirmed change is history; rollback now means this one
        persist_id = f"intentloop-{self.name}"

        def work(session: Any) -> netconf_steps.Change | None:
            # A pending commit can only be someone else's (a crashed predecessor) on a
            # session that has not cancelled one yet, or after a change of ours that did
            # not end cleanly: otherwise skip the round trip.
            fresh = session is not self._settled_session
            self._settled_session = None
            change = netconf_steps.stage(
                session, desired, persist_id, self._reads, cancel_pending=fresh
            )
            if change is None:
                self._settled_session = session
            return change

        self._change = await self._run(work)
        diff = "" if self._change is None else self._change.diff
        self._log.info("netconf.stage.done", changed_lines=diff.count("\n"))
        return diff

    async def commit(self, confirm_timeout_s: int) -> None:
        change = self._change
        if change is None or change.phase != "staged":
            return

        def work(session: Any) -> None:
            change.commit_sent = True
            session.commit(
                confirmed=True, timeout=str(confirm_timeout_s), persist=change.persist_id
            )
            change.phase = "committed"

        await self._run(work)
        self._log.info("netconf.commit.done", confirm_timeout_s=confirm_timeout_s)

    async def confirm(self) -> None:
        change = self._change
        if change is None or change.phase != "committed":
            return

        def work(session: Any) -> None:
            session.commit(persist_id=change.persist_id)
            change.phase = "confirmed"
            netconf_steps.unlock_quietly(session)
            self._settled_session = session  # nothing of ours is pending on it

        await self._run(work)
        self._log.info("netconf.confirm.done")

    async def rollback(self) -> None:
        change = self._change
        if change is None:
            return
        await self._run(lambda session: netconf_steps.rollback(session, change))
        self._change = None
        self._log.info("netconf.rollback.done", phase=change.phase)

    # -- notifications -----------------------------------------------------------------
    async def subscribe(self, paths: Sequence[str]) -> AsyncIterator[TelemetryUpdate]:
        """Config-change, confirmed-commit and interface-state notifications (the last is
        the telemetry of a device without gNMI), on a session of their own.

        RFC 5277 lets a server stop serving RPCs on a session that subscribed, so the
        subscription never shares the session changes go through. The first update is a
        `sync` marker: from then on, changes are seen.
        """
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"netconf-sub-{self.name}")
        session: Any = None
        try:
            session = await loop.run_in_executor(executor, self._open_subscription)
            yield TelemetryUpdate(
                device=self.name,
                path=netconf_notifications.DEVICE_PATH,
                value=None,
                timestamp_ns=time.time_ns(),
                sync=True,
            )
            while True:
                notification = await loop.run_in_executor(
                    executor, session.take_notification, True, _NOTIFICATION_POLL_S
                )
                if notification is None:
                    if not session.connected:
                        raise netconf_session.device_error(
                            self.name, ConnectionError("notification session closed")
                        )
                    continue
                for update in netconf_notifications.updates_from(
                    self.name, notification.notification_xml
                ):
                    if netconf_notifications.wanted(update.path, paths):
                        yield update
        finally:
            if session is not None:
                executor.submit(netconf_steps.close_quietly, session)
            executor.shutdown(wait=False)

    def _open_subscription(self) -> Any:
        try:
            session = netconf_session.open_session(self._params)
            session.create_subscription()
        except Exception as exc:
            raise netconf_session.device_error(self.name, exc) from exc
        return session
