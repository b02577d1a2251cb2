"""The lab's gNMI service against the gNMI specification, through gnmi_cli (openconfig/gnmi).

Each test names the section of `rpc/gnmi/gnmi-specification.md` (openconfig/reference) it
checks. Requests are built as protobuf messages and handed to gnmi_cli as text protos; the
client, its gRPC stack and its TLS and credential handling are not ours.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import text_format
from pygnmi.spec.v080 import gnmi_pb2

from intentloop_intents.device import DeviceConfigTree, Vlan
from intentloop_lab.pki import LabPki
from tests.adapters.gnmi_cli import GnmiCli, GnmiCliError
from tests.adapters.gnmi_fixtures import GnmiLabHandle, start_target

# The configuration model the lab target serves; only these names are model-specific.
CONFIG_ORIGIN = "intentloop-device"
CONFIG_ROOT = "/device"
VLAN = "/device/vlan[vlan-id={}]"
SUBINTERFACE = "/device/subinterface[parent={}][vlan-id={}]"
OPER_STATUS = "/interfaces/interface[name={}]/state/oper-status"
IN_OCTETS = "/interfaces/interface[name={}]/state/counters/in-octets"
HOSTNAME = "/system/state/hostname"


@pytest.fixture
def lab_target(gnmi_pki: LabPki) -> Iterator[tuple[GnmiLabHandle, GnmiCli]]:
    """A TLS lab target that requires a username and password, and gnmi_cli dialling it."""
    password = secrets.token_urlsafe(12)
    handle = start_target("gn-spec", gnmi_pki, username="netops", password=password)
    assert handle.tls is not None
    cli = GnmiCli(f"127.0.0.1:{handle.target.port}", handle.tls.ca, "netops", password)
    try:
        yield handle, cli
    finally:
        handle.target.stop()


def path(text: str, *, origin: str = "", target: str = "") -> Any:
    """`/a/b[k=v]` as a gNMI Path (the tests' paths hold no `/` or `]` inside keys)."""
    elems = []
    for part in filter(None, text.split("/")):
        name, _, rest = part.partition("[")
        keys = dict(kv.split("=", 1) for kv in rest.rstrip("]").split("][")) if rest else {}
        elems.append(gnmi_pb2.PathElem(name=name, key=keys))
    return gnmi_pb2.Path(origin=origin, target=target, elem=elems)


def config(text: str = CONFIG_ROOT) -> Any:
    return path(text, origin=CONFIG_ORIGIN)


def json_ietf(value: object) -> Any:
    return gnmi_pb2.TypedValue(json_ietf_val=json.dumps(value).encode())


def proto(message: Any) -> str:
    text: str = text_format.MessageToString(message, as_one_line=True)
    return text


def subscription(
    *subs: Any,
    mode: int = gnmi_pb2.SubscriptionList.STREAM,
    target: str = "",
    encoding: int = gnmi_pb2.Encoding.PROTO,
) -> str:
    request = gnmi_pb2.SubscribeRequest(
        subscribe=gnmi_pb2.SubscriptionList(
            prefix=gnmi_pb2.Path(target=target), subscription=subs, mode=mode, encoding=encoding
        )
    )
    return proto(request)


def updated(response: Any) -> dict[str, Any]:
    """The updates of one SubscribeResponse by the last elements of their paths."""
    return {"/".join(e.name for e in u.path.elem[-2:]): u.val for u in response.update.update}


def _string(values: dict[str, Any], leaf: str) -> str | None:
    return values[leaf].string_val if leaf in values else None


def add_vlans(cli: GnmiCli, *ids: int) -> None:
    updates = [
        gnmi_pb2.Update(path=config(VLAN.format(i)), val=json_ietf({"vlan-id": i})) for i in ids
    ]
    cli.set(proto(gnmi_pb2.SetRequest(update=updates)))


def test_target_in_the_request_prefix_is_echoed_in_get_set_and_subscribe_replies(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§2.2.2.1: a `target` set in a request's prefix MUST be reflected in the prefix of the
    GetResponse, SetResponse and SubscribeResponse; unset in the request, unset in replies."""
    _, cli = lab_target
    named = gnmi_pb2.Path(target="edge-7")
    state = cli.get(proto(gnmi_pb2.GetRequest(prefix=named, path=[path(HOSTNAME)])))
    assert [n.prefix.target for n in state.notification] == ["edge-7"]
    add_vlans(cli, 10)
    got = cli.get(proto(gnmi_pb2.GetRequest(prefix=named, path=[config(VLAN.format(10))])))
    assert [n.prefix.target for n in got.notification] == ["edge-7"]
    update = gnmi_pb2.Update(path=config(VLAN.format(11)), val=json_ietf({"vlan-id": 11}))
    done = cli.set(proto(gnmi_pb2.SetRequest(prefix=named, update=[update])))
    assert done.prefix.target == "edge-7"
    sub = gnmi_pb2.Subscription(path=path(OPER_STATUS.format("eth1")))
    with cli.subscribe(subscription(sub, target="edge-7")) as stream:
        first = stream.next()
        assert first.update.prefix.target == "edge-7"
        assert updated(first)["state/oper-status"].string_val == "UP"
    unnamed = cli.get(proto(gnmi_pb2.GetRequest(path=[path(HOSTNAME)])))
    assert [n.prefix.target for n in unnamed.notification] == [""]


def test_set_response_keeps_the_request_prefix_so_result_paths_stay_absolute(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.4.2: the SetResponse `prefix` applies to every UpdateResult path, so a target that
    drops the request's prefix turns `/device/vlan[...]` into a bare `vlan[...]`."""
    _, cli = lab_target
    prefix = config(CONFIG_ROOT)
    relative = path(VLAN.format(20).removeprefix(CONFIG_ROOT))
    request = gnmi_pb2.SetRequest(
        prefix=prefix,
        update=[gnmi_pb2.Update(path=relative, val=json_ietf({"vlan-id": 20, "name": "blue"}))],
        delete=[path(VLAN.format(21).removeprefix(CONFIG_ROOT))],
    )
    done = cli.set(proto(request))
    assert done.prefix == prefix
    absolute = {
        (r.op, "/".join(e.name for e in (*done.prefix.elem, *r.path.elem))) for r in done.response
    }
    assert absolute == {
        (gnmi_pb2.UpdateResult.UPDATE, "device/vlan"),
        (gnmi_pb2.UpdateResult.DELETE, "device/vlan"),
    }
    got = cli.get(proto(gnmi_pb2.GetRequest(path=[config(VLAN.format(20))], encoding=4)))
    assert json.loads(got.notification[0].update[0].val.json_ietf_val)["name"] == "blue"


def test_stream_to_a_valid_but_absent_path_stays_open_and_reports_it_once_it_appears(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.5.1.3: subscribing to a path that does not (yet) exist MUST be allowed; the target
    MUST NOT close the RPC and sends updates should the path appear (table §3.5.2.4: nothing
    is sent for it, the RPC is not closed)."""
    _, cli = lab_target
    absent_entry = gnmi_pb2.Subscription(
        path=config(VLAN.format(30)), mode=gnmi_pb2.SubscriptionMode.ON_CHANGE
    )
    absent_port = gnmi_pb2.Subscription(
        path=path(OPER_STATUS.format("eth9")), mode=gnmi_pb2.SubscriptionMode.ON_CHANGE
    )
    with cli.subscribe(subscription(absent_entry, absent_port)) as stream:
        assert stream.next().sync_response  # nothing exists yet: no update before the sync
        add_vlans(cli, 30)
        appeared = stream.until(lambda r: r.HasField("update"))
        assert [e.key for e in appeared.update.update[0].path.elem] == [{}, {"vlan-id": "30"}]
    once = cli.subscribe(subscription(absent_port, mode=gnmi_pb2.SubscriptionList.ONCE))
    with once as stream:
        assert stream.next().sync_response


def test_paths_in_no_served_model_are_unimplemented_and_absent_elements_not_found(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.3.4 and §3.5.2.4: a path the server does not implement is UNIMPLEMENTED in Get and
    Subscribe; NOT_FOUND is only for a path of a served model with nothing there (Get).
    §3.4.7: a Set on a path this target cannot write is refused, never NOT_FOUND."""
    _, cli = lab_target
    unknown = path("/routing-policy/policy-definitions")
    with pytest.raises(GnmiCliError) as get_unknown:
        cli.get(proto(gnmi_pb2.GetRequest(path=[unknown])))
    assert get_unknown.value.code == "UNIMPLEMENTED", get_unknown.value
    assert "/routing-policy/policy-definitions" in get_unknown.value.message
    with pytest.raises(GnmiCliError) as get_absent:
        cli.get(proto(gnmi_pb2.GetRequest(path=[path(OPER_STATUS.format("eth9"))])))
    assert get_absent.value.code == "NOT_FOUND", get_absent.value
    with pytest.raises(GnmiCliError) as absent_entry:
        cli.get(proto(gnmi_pb2.GetRequest(path=[config(VLAN.format(99))])))
    assert absent_entry.value.code == "NOT_FOUND", absent_entry.value
    with pytest.raises(GnmiCliError) as set_unknown:
        update = gnmi_pb2.Update(path=unknown, val=json_ietf({}))
        cli.set(proto(gnmi_pb2.SetRequest(update=[update])))
    assert set_unknown.value.code == "UNIMPLEMENTED", set_unknown.value
    with pytest.raises(GnmiCliError) as set_state:
        update = gnmi_pb2.Update(path=path(HOSTNAME), val=json_ietf("rename"))
        cli.set(proto(gnmi_pb2.SetRequest(update=[update])))
    assert set_state.value.code == "INVALID_ARGUMENT", set_state.value
    stream = cli.subscribe(subscription(gnmi_pb2.Subscription(path=unknown)))
    with stream, pytest.raises(GnmiCliError) as sub_unknown:
        stream.next()
    assert sub_unknown.value.code == "UNIMPLEMENTED", sub_unknown.value


def test_scalars_come_back_in_the_encoding_the_request_asked_for(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§2.3, §3.3.1 and §3.5.1.2: values are serialised in the encoding the Get or the
    SubscriptionList asks for — PROTO as typed scalars (§2.3.3), JSON as a bare JSON value,
    JSON_IETF per RFC 7951 (a 64-bit counter is a JSON string, RFC 7951 §6.1) — and an
    unsupported encoding is UNIMPLEMENTED, naming it."""
    handle, cli = lab_target
    handle.target.set_in_rate("eth1", 100.0)
    leaves = [path(OPER_STATUS.format("eth1")), path(IN_OCTETS.format("eth1"))]

    def get(encoding: int) -> list[Any]:
        reply = cli.get(proto(gnmi_pb2.GetRequest(path=leaves, encoding=encoding)))
        return [u.val for n in reply.notification for u in n.update]

    status, octets = get(gnmi_pb2.Encoding.PROTO)
    assert status.string_val == "UP" and octets.WhichOneof("value") == "uint_val"
    status, octets = get(gnmi_pb2.Encoding.JSON)
    assert json.loads(status.json_val) == "UP" and isinstance(json.loads(octets.json_val), int)
    status, octets = get(gnmi_pb2.Encoding.JSON_IETF)
    assert json.loads(status.json_ietf_val) == "UP"
    assert isinstance(json.loads(octets.json_ietf_val), str)
    assert json.loads(octets.json_ietf_val).isdecimal()
    with pytest.raises(GnmiCliError) as ascii_refused:
        get(gnmi_pb2.Encoding.ASCII)
    assert ascii_refused.value.code == "UNIMPLEMENTED"
    assert "ASCII" in ascii_refused.value.message
    once = gnmi_pb2.SubscriptionList.ONCE
    for encoding, field in [(gnmi_pb2.Encoding.JSON, "json_val"), (gnmi_pb2.Encoding.PROTO, "")]:
        subs = [gnmi_pb2.Subscription(path=p) for p in leaves]
        with cli.subscribe(subscription(*subs, mode=once, encoding=encoding)) as stream:
            values = updated(stream.next())
        assert values["state/oper-status"].WhichOneof("value") == (field or "string_val")
        assert values["counters/in-octets"].WhichOneof("value") == (field or "uint_val")
    served = set(cli.capabilities().supported_encodings)
    assert served >= {gnmi_pb2.Encoding.JSON, gnmi_pb2.Encoding.JSON_IETF, gnmi_pb2.Encoding.PROTO}


def test_on_change_with_a_heartbeat_resends_an_unchanged_value(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.5.1.5.2: with a heartbeat_interval on an ON_CHANGE subscription "the value of the
    data item(s) MUST be re-sent once per heartbeat interval regardless of whether the value
    has changed or not"."""
    _, cli = lab_target
    sub = gnmi_pb2.Subscription(
        path=path(OPER_STATUS.format("eth1")),
        mode=gnmi_pb2.SubscriptionMode.ON_CHANGE,
        heartbeat_interval=50_000_000,
    )
    with cli.subscribe(subscription(sub)) as stream:
        stream.until(lambda r: r.sync_response)
        for _ in range(2):  # nothing changes on the port, yet the value keeps coming
            resent = stream.until(lambda r: r.HasField("update"))
            assert updated(resent)["state/oper-status"].string_val == "UP"


def test_sample_with_suppress_redundant_sends_changes_and_heartbeats_only(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.5.1.5.2: with `suppress_redundant` a sampled leaf is sent only when it changed;
    a `heartbeat_interval` makes the target send it once per heartbeat all the same."""
    handle, cli = lab_target
    handle.target.set_in_rate("eth2", 1000.0)  # in-octets of eth2 change at every sample
    subs = [
        gnmi_pb2.Subscription(
            path=path(leaf),
            mode=gnmi_pb2.SubscriptionMode.SAMPLE,
            sample_interval=10_000_000,
            suppress_redundant=True,
            heartbeat_interval=500_000_000,
        )
        for leaf in (HOSTNAME, IN_OCTETS.format("eth2"), OPER_STATUS.format("eth1"))
    ]
    with cli.subscribe(subscription(*subs)) as stream:
        stream.until(lambda r: r.sync_response)
        stream.until(lambda r: "state/hostname" in updated(r))  # the first heartbeat
        samples = 0
        while "state/hostname" not in updated(stream.next()):  # until the next heartbeat
            samples += 1
        # Unsuppressed, the hostname is due with every sample and rides in each notification.
        assert samples >= 1, "the unchanged hostname was sent with every sample"
        handle.target.set_oper_status("eth1", False)
        stream.until(lambda r: _string(updated(r), "state/oper-status") == "DOWN")


@pytest.mark.parametrize(
    ("field", "value"), [("sample_interval", 1_000), ("heartbeat_interval", 10)]
)
def test_intervals_below_the_target_minimum_are_refused(
    lab_target: tuple[GnmiLabHandle, GnmiCli], field: str, value: int
) -> None:
    """§3.5.1.5.2: "If the target is unable to support the desired sample_interval it MUST
    reject the subscription by closing the Subscribe RPC specifying an InvalidArgument"."""
    _, cli = lab_target
    sub = gnmi_pb2.Subscription(
        path=path(IN_OCTETS.format("eth1")), mode=gnmi_pb2.SubscriptionMode.SAMPLE
    )
    setattr(sub, field, value)
    with cli.subscribe(subscription(sub)) as stream, pytest.raises(GnmiCliError) as refused:
        stream.next()
    assert refused.value.code == "INVALID_ARGUMENT", refused.value
    assert field in refused.value.message


def test_wildcard_deletes_remove_every_matching_entry(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """§3.4.6: "If a wildcard path is utilised, the wildcards MUST be expanded by the target,
    and the corresponding elements of the data tree deleted. Such wildcards MUST support
    paths specifying a subset of attributes required to identify entries"."""
    _, cli = lab_target
    add_vlans(cli, 100, 200, 300)
    subs = [("eth1", 100), ("eth1", 200), ("eth2", 100)]
    updates = [
        gnmi_pb2.Update(path=config(SUBINTERFACE.format(p, v)), val=json_ietf({})) for p, v in subs
    ]
    cli.set(proto(gnmi_pb2.SetRequest(update=updates)))
    cli.set(
        proto(
            gnmi_pb2.SetRequest(
                delete=[config(VLAN.format("*")), config("/device/subinterface[parent=eth1]")]
            )
        )
    )
    reply = cli.get(proto(gnmi_pb2.GetRequest(path=[config()], encoding=4)))
    tree = json.loads(reply.notification[0].update[0].val.json_ietf_val)
    assert "vlan" not in tree
    assert [(s["parent"], s["vlan-id"]) for s in tree["subinterface"]] == [("eth2", 100)]


async def test_gnmi_cli_reads_back_what_the_operator_adapter_configured(
    lab_target: tuple[GnmiLabHandle, GnmiCli],
) -> None:
    """The operator's adapter and a client we did not write agree on the device: what the
    adapter commits, gnmi_cli reads with Get, and a gnmi_cli ON_CHANGE subscription to the
    configuration sees the adapter's next commit (§3.3, §3.5.1.5.2)."""
    handle, cli = lab_target
    adapter = handle.make_adapter(username=cli.username, password=cli.password)
    await adapter.connect()
    try:
        desired = DeviceConfigTree(vlans=(Vlan(vlan_id=42, name="blue"),))
        await adapter.stage(desired)
        await adapter.commit(30)
        await adapter.confirm()
        reply = cli.get(proto(gnmi_pb2.GetRequest(path=[config()], encoding=4)))
        tree = json.loads(reply.notification[0].update[0].val.json_ietf_val)
        assert [(v["vlan-id"], v["name"]) for v in tree["vlan"]] == [(42, "blue")]
        watch = gnmi_pb2.Subscription(
            path=config("/device/vlan"), mode=gnmi_pb2.SubscriptionMode.ON_CHANGE
        )
        with cli.subscribe(subscription(watch)) as stream:
            stream.until(lambda r: r.sync_response)
            await adapter.stage(DeviceConfigTree(vlans=(Vlan(vlan_id=43, name="red"),)))
            await adapter.commit(30)
            await adapter.confirm()
            added = stream.until(lambda r: any(u.path.elem[-1].key for u in r.update.update))
            keys = {u.path.elem[-1].key["vlan-id"] for u in added.update.update}
            gone = {p.elem[-1].key["vlan-id"] for p in added.update.delete}
            assert keys == {"43"} and gone == {"42"}
    finally:
        await adapter.close()
