"""`GnmiAdapter`: a device over gNMI, TLS by default, with commit-confirm done by the adapter.

Commit-confirmed. gNMI 0.8 as compiled into pygnmi 0.8.15 has no Commit extension
(`gnmi_ext.proto` carries only master arbitration, history and registered extensions), so the
device cannot revert on its own. The adapter emulates it: `stage` saves the running config,
`commit` sends one atomic SetRequest with only what changed, and a timer restores the saved
config with one atomic replace unless `confirm` arrives within `confirm_timeout_s`.
**Limitation:** the timer lives in the controller's process. If the controller dies between
commit and confirm, nothing reverts the device (NETCONF's confirmed-commit does not have
this gap); the change stays, and drift detection compares it with the desired config after a
restart. `close()` with a commit still unconfirmed reverts it, as a NETCONF session close would.

Calls use the raw gNMI stub from pygnmi's compiled protos rather than `gNMIclient`: every RPC
needs a deadline (gNMIclient sets none, so a hung device would hold a worker thread forever),
the CA arrives as PEM text (gNMIclient wants a file), and a failed handshake must not change
process-wide settings (gNMIclient retries by setting GRPC_SSL_CIPHER_SUITES in os.environ).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import grpc
import grpc.experimental
import structlog
from pygnmi.spec.v080 import gnmi_pb2, gnmi_pb2_grpc

from intentloop_adapters import gnmi_codec as codec
from intentloop_adapters.errors import PermanentDeviceError, TransientDeviceError
from intentloop_adapters.gnmi_profiles import INTENTLOOP, Profile, profile, reply_bytes
from intentloop_adapters.gnmi_stream import LatestValueQueue, StreamEnded, TelemetryStats
from intentloop_adapters.gnmi_transaction import SavedConfigTransaction
from intentloop_adapters.protocol import DeviceCapabilities, TelemetryUpdate
from intentloop_adapters.readback import ReadCache
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device.gnmi_json import Edit, tree_to_json

log = structlog.get_logger(__name__)

_SAMPLED_LEAVES = frozenset({"in-octets", "out-octets", "out-rate-mbps", "latency-ms"})
_ON_CHANGE_LEAVES = frozenset({"oper-status", "software-version", "hostname"})


class GnmiAdapter:
    """One gNMI device (see the module docstring for how confirm works)."""

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        ca_pem: str | None = None,
        insecure: bool = False,
        server_name: str | None = None,
        timeout_s: float = 10.0,
        sample_interval_s: float = 1.0,
        queue_size: int = 10_000,
        model: str = "intentloop",
    ) -> None:
        if not insecure and not ca_pem:
            raise ValueError(
                f"{name}: gNMI runs over TLS and needs the device's CA (ca_pem); "
                "pass insecure=True only for a plaintext lab device"
            )
        self.name = name
        self._profile: Profile = profile(model)
        self.stores_owners = self._profile.stores_owners
        self._target = f"{host}:{port}"
        self._ca_pem = ca_pem
        self._insecure = insecure
        self._server_name = server_name
        self._timeout_s = timeout_s
        self._sample_ns = int(sample_interval_s * 1e9)
        self._queue_size = queue_size
        self._metadata = (("username", username), ("password", password or "")) if username else ()
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self._streams: set[Any] = set()
        self._queues: list[LatestValueQueue] = []
        self._tx = SavedConfigTransaction(name=name, restore=self._restore)
        self._reads = ReadCache(self._profile.form)

    # --- session ------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._channel is not None:
            return
        options: list[tuple[str, Any]] = [
            (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1)
        ]
        if self._insecure:
            log.warning("gnmi.connect.insecure", device=self.name)
            channel = grpc.insecure_channel(self._target, options=options)
        else:
            assert self._ca_pem is not None
            if self._server_name:
                options.append(("grpc.ssl_target_name_override", self._server_name))
            credentials = grpc.ssl_channel_credentials(root_certificates=self._ca_pem.encode())
            channel = grpc.secure_channel(self._target, credentials, options=options)
        self._channel, self._stub = channel, gnmi_pb2_grpc.gNMIStub(channel)
        try:
            await self._run("Capabilities", gnmi_pb2.CapabilityRequest())
        except Exception:
            await self.close()
            raise
        log.info("gnmi.connect.done", device=self.name)

    async def close(self) -> None:
        await asyncio.to_thread(self._tx.abandon)
        calls = list(self._streams)
        self._streams.clear()  # before cancelling: readers then end their streams quietly
        for call in calls:
            call.cancel()
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    async def capabilities(self) -> DeviceCapabilities:
        reply = await self._run("Capabilities", gnmi_pb2.CapabilityRequest())
        models = tuple(f"{m.name}@{m.version}" for m in reply.supported_models)
        encodings = tuple(gnmi_pb2.Encoding.Name(e) for e in reply.supported_encodings)
        return DeviceCapabilities(
            software_version=await self._software_version(),
            models=models,
            confirmed_commit=False,  # emulated by the adapter, not offered by the device
            notifications=True,
            raw=(f"gNMI {reply.gNMI_version}", *encodings, *models),
        )

    # --- configuration ------------------------------------------------------------------
    async def get_config(self) -> DeviceConfigTree:
        return await asyncio.to_thread(self._running)

    def held(self, tree: DeviceConfigTree) -> DeviceConfigTree:
        """What this device holds of `tree` once applied: what `get_config` then returns."""
        return self._profile.held(tree)

    async def native_diff(self, desired: DeviceConfigTree) -> str:
        return self._profile.describe(self._profile.edits(await self.get_config(), desired))

    async def stage(self, desired: DeviceConfigTree) -> str:
        def stage() -> str:
            self._reads.expect(self._profile.held(desired))
            running = self._running()
            edits = self._profile.edits(running, desired)
            self._tx.stage(running, edits)
            log.info("gnmi.stage.done", device=self.name, edits=len(edits))
            return self._profile.describe(edits)

        return await asyncio.to_thread(stage)

    async def commit(self, confirm_timeout_s: int) -> None:
        await asyncio.to_thread(
            self._tx.commit, confirm_timeout_s, running=self._running, apply=self._apply
        )

    async def confirm(self) -> None:
        await asyncio.to_thread(self._tx.confirm)

    async def rollback(self) -> None:
        await asyncio.to_thread(self._tx.rollback)

    def _running(self) -> DeviceConfigTree:
        roots = self._profile.roots
        request = gnmi_pb2.GetRequest(
            path=[path for _, path in roots],
            type=gnmi_pb2.GetRequest.CONFIG,
            encoding=gnmi_pb2.Encoding.JSON_IETF,
        )
        reply = self._call("Get", request)
        found: dict[str, bytes] = {}
        for notification in reply.notification:
            for update in notification.update:
                elems = (*notification.prefix.elem, *update.path.elem)
                if elems:
                    found[elems[0].name] = update.val.json_ietf_val or update.val.json_val
        values = [found.get(path.elem[0].name, b"") or b"{}" for _, path in roots]

        def parse() -> DeviceConfigTree:
            try:
                return self._profile.parse(self._profile.document(values))
            except ValueError as exc:  # bad JSON, or JSON the model cannot represent
                raise PermanentDeviceError(
                    self.name, f"running configuration cannot be read into the model: {exc}"
                ) from exc

        return self._reads.read(
            reply_bytes(values), lambda: self._profile.reply_form(values), parse
        )

    def _apply(self, edits: Sequence[Edit]) -> None:
        self._call("Set", self._profile.set_request(edits))

    def _restore(self, previous: DeviceConfigTree) -> None:
        if self._profile is INTENTLOOP:  # one atomic replace of the whole subtree
            self._call("Set", codec.replace_all_request(tree_to_json(previous)))
            return
        # Elsewhere intentloop's part shares its containers with the device's own
        # configuration: put back only what differs from what it holds now.
        edits = self._profile.edits(self._running(), previous)
        if edits:
            self._call("Set", self._profile.set_request(edits))

    # --- telemetry ----------------------------------------------------------------------
    async def subscribe(self, paths: Sequence[str]) -> AsyncGenerator[TelemetryUpdate, None]:
        """STREAM subscription; yields updates and one `sync=True` marker once the device has
        sent every current value. Raises TransientDeviceError when the stream breaks."""
        if self._channel is None:
            raise TransientDeviceError(self.name, "not connected")
        request = gnmi_pb2.SubscribeRequest(subscribe=self._subscription(paths))
        method = self._channel.unary_stream(
            "/gnmi.gNMI/Subscribe",
            request_serializer=gnmi_pb2.SubscribeRequest.SerializeToString,
            response_deserializer=gnmi_pb2.SubscribeResponse.FromString,
        )
        call = method(request, metadata=self._metadata)
        queue = LatestValueQueue(self._queue_size, asyncio.get_running_loop())
        self._streams.add(call)
        self._queues.append(queue)
        reader = threading.Thread(
            target=self._read, args=(call, queue), name=f"gnmi-{self.name}", daemon=True
        )
        reader.start()
        try:
            while True:
                try:
                    batch = await queue.get_batch()
                except StreamEnded:
                    return
                for update in batch:
                    yield update
        finally:
            self._streams.discard(call)
            call.cancel()
            self._queues.remove(queue)

    def telemetry_stats(self) -> list[TelemetryStats]:
        """Buffer counters of the open subscriptions (depth stays within `queue_size`)."""
        return [queue.stats() for queue in self._queues]

    def _subscription(self, paths: Sequence[str]) -> Any:
        subscriptions = []
        for text in paths:
            path = codec.parse_path(text)
            leaf = path.elem[-1].name if path.elem else ""
            if leaf in _SAMPLED_LEAVES:
                mode = gnmi_pb2.SubscriptionMode.SAMPLE
            elif leaf in _ON_CHANGE_LEAVES:
                mode = gnmi_pb2.SubscriptionMode.ON_CHANGE
            else:
                mode = gnmi_pb2.SubscriptionMode.TARGET_DEFINED
            subscriptions.append(
                gnmi_pb2.Subscription(path=path, mode=mode, sample_interval=self._sample_ns)
            )
        return gnmi_pb2.SubscriptionList(
            subscription=subscriptions,
            mode=gnmi_pb2.SubscriptionList.STREAM,
            encoding=gnmi_pb2.Encoding.PROTO,  # telemetry leaves as typed scalars
        )

    def _read(self, call: Any, queue: LatestValueQueue) -> None:
        decoder = codec.TelemetryDecoder(self.name)
        try:
            for response in call:
                queue.put_many(decoder.decode(response))
            queue.finish(TransientDeviceError(self.name, "the device ended the telemetry stream"))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and call not in self._streams:
                queue.finish()
            else:
                log.warning("gnmi.subscribe.broken", device=self.name, code=str(exc.code()))
                queue.finish(codec.device_error(self.name, exc))
        except Exception as exc:  # a reply we cannot decode must end the stream, not hang it
            log.error("gnmi.subscribe.undecodable", device=self.name, error=str(exc))
            call.cancel()
            queue.finish(PermanentDeviceError(self.name, f"undecodable telemetry: {exc}"))

    # --- plumbing -----------------------------------------------------------------------
    async def _software_version(self) -> str:
        request = gnmi_pb2.GetRequest(
            path=[codec.parse_path("/system/state/software-version")],
            type=gnmi_pb2.GetRequest.STATE,
            encoding=gnmi_pb2.Encoding.JSON_IETF,
        )
        try:
            reply = await self._run("Get", request)
        except PermanentDeviceError:
            return ""  # not every device serves this path
        for notification in reply.notification:
            for update in notification.update:
                return str(codec.typed_value(update.val) or "")
        return ""

    async def _run(self, rpc: str, request: Any) -> Any:
        return await asyncio.to_thread(self._call, rpc, request)

    def _call(self, rpc: str, request: Any) -> Any:
        """One unary RPC with a deadline; gRPC failures become DeviceErrors."""
        stub = self._stub
        if stub is None:
            raise TransientDeviceError(self.name, "not connected")
        try:
            return getattr(stub, rpc)(request, timeout=self._timeout_s, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise codec.device_error(self.name, exc) from exc
