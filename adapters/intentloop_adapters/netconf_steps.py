"""The NETCONF steps behind `NetconfAdapter`, each a blocking sequence of RPCs.

They run in the device's worker thread, on an ncclient Manager, and raise ncclient's own
errors; the adapter turns those into ours. Keeping them apart from the async adapter keeps
"what is sent to the device, in which order" readable in one place.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from lxml import etree
from ncclient.operations import RPCError

from intentloop_adapters.protocol import DeviceCapabilities
from intentloop_adapters.readback import ReadCache, xml_form
from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.device import xml as device_xml

CANDIDATE = "candidate"
_CONFIRMED_COMMIT = "urn:ietf:params:netconf:capability:confirmed-commit"
_NOTIFICATION = "urn:ietf:params:netconf:capability:notification:1.0"
_IETF_SYSTEM = "urn:ietf:params:xml:ns:yang:ietf-system"
_MESSAGE_ID = re.compile(r"""message-id=("[^"]*"|'[^']*')""")


@dataclass
class Change:
    """The change in flight on this device: what to return to, and how far it got."""

    before: DeviceConfigTree
    diff: str
    persist_id: str
    phase: Literal["staged", "committed", "confirmed"] = "staged"
    commit_sent: bool = False


def read_running(session: Any, reads: ReadCache | None = None) -> DeviceConfigTree:
    reply = session.get_config(source="running", filter=("subtree", device_xml.subtree_filter()))
    document: str = reply.xml
    if reads is None:
        return device_xml.parse_config(document)
    root: list[etree._Element] = []

    def device() -> etree._Element:
        if not root:
            root.append(device_xml.parse_document(document))
        found = next(root[0].iter(device_xml.DEVICE), None)
        return found if found is not None else device_xml.render_device(DeviceConfigTree())

    return reads.read(
        _MESSAGE_ID.sub("", document, count=1),  # the reply's only part that always changes
        lambda: xml_form(device()),
        lambda: device_xml.parse_device(device()).canonical(),
    )


def read_cache() -> ReadCache:
    """A `ReadCache` for one NETCONF device (see `intentloop_adapters.readback`)."""
    return ReadCache(lambda tree: xml_form(device_xml.render_device(tree)))


def lock_candidate(session: Any) -> None:
    """Lock the candidate; an abandoned, unlocked edit in it is discarded first.

    A server refuses to lock a candidate that holds uncommitted changes (RFC 6241 7.5);
    nobody holding the lock means nobody is working on them, and our change must start from
    running anyway. A lock held by another session is left alone (transient: retry later).
    """
    try:
        session.lock(CANDIDATE)
    except RPCError as exc:
        if exc.tag == "lock-denied":
            raise
        session.discard_changes()
        session.lock(CANDIDATE)


def edit_candidate(session: Any, edit: etree._Element) -> None:
    """edit-config on the candidate; all-or-nothing where the server offers it."""
    atomic = ":rollback-on-error" in session.server_capabilities
    session.edit_config(
        target=CANDIDATE, config=edit, error_option="rollback-on-error" if atomic else None
    )


def stage(
    session: Any,
    desired: DeviceConfigTree,
    persist_id: str,
    reads: ReadCache | None = None,
    *,
    cancel_pending: bool = True,
) -> Change | None:
    """Lock, read running, edit the candidate with the minimal edit; None if nothing to do.

    On success the candidate stays locked until confirm or rollback; on failure nothing is
    left behind (candidate discarded, lock released).

    `persist_id` is stable per device: a controller that crashed between its confirmed
    commit and the confirming one left that commit pending (persisted commits outlive
    their session); cancelling it first puts the device back on its last confirmed
    configuration, so the new transaction starts from the truth, not from a change that
    would silently revert later. The caller may skip that round trip (`cancel_pending`)
    when this session already did it and every change since was confirmed or rolled back.
    """
    if cancel_pending:
        with contextlib.suppress(RPCError):
            session.cancel_commit(persist_id=persist_id)
    lock_candidate(session)
    try:
        before = read_running(session, reads)
        if reads is not None:
            reads.expect(desired)  # what verify should read back after the commit
        edit = device_xml.minimal_edit(before, desired)
        if edit is not None:
            edit_candidate(session, edit)
    except BaseException:
        _discard_and_unlock(session)
        raise
    if edit is None:
        unlock_quietly(session)
        return None
    return Change(before=before, diff=device_xml.to_text(edit), persist_id=persist_id)


def rollback(session: Any, change: Change) -> None:
    """Back to `change.before` from any phase: cancel a pending confirmed commit, discard the
    candidate, then compare running with `before` and re-apply it if they differ (the only
    way back once a change was confirmed)."""
    if change.commit_sent and change.phase != "confirmed":
        # Already expired, or the commit never arrived: running is compared below anyway.
        with contextlib.suppress(RPCError):
            session.cancel_commit(persist_id=change.persist_id)
    if change.phase == "confirmed":
        lock_candidate(session)
    try:
        session.discard_changes()
        edit = device_xml.minimal_edit(read_running(session), change.before)
        if edit is not None:
            edit_candidate(session, edit)
            session.commit()
    finally:
        unlock_quietly(session)


def _discard_and_unlock(session: Any) -> None:
    with contextlib.suppress(Exception):  # best effort on the way out of a failure
        session.discard_changes()
    unlock_quietly(session)


def unlock_quietly(session: Any) -> None:
    with contextlib.suppress(RPCError):  # not locked by us (any more): nothing to release
        session.unlock(CANDIDATE)


def close_quietly(session: Any) -> None:
    with contextlib.suppress(Exception):  # the session may already be gone
        session.close_session()


def capabilities(session: Any) -> DeviceCapabilities:
    raw = tuple(sorted(session.server_capabilities))
    models = tuple(sorted({c.split("module=")[1].split("&")[0] for c in raw if "module=" in c}))
    version, platform = _software_version(session)
    return DeviceCapabilities(
        software_version=version,
        platform=platform,
        models=models,
        confirmed_commit=any(c.startswith(_CONFIRMED_COMMIT) for c in raw),
        notifications=_NOTIFICATION in raw,
        raw=raw,
    )


def _software_version(session: Any) -> tuple[str, str]:
    """ietf-system's platform os-name/os-version, else the server's own identification."""
    state = etree.Element(
        f"{{{_IETF_SYSTEM}}}system-state", nsmap=cast("dict[str, str]", {None: _IETF_SYSTEM})
    )
    try:
        reply = session.get(filter=("subtree", state))
    except RPCError:
        return "", ""
    root = device_xml.parse_document(reply.xml)
    version = root.findtext(f".//{{{_IETF_SYSTEM}}}os-version") or ""
    platform = root.findtext(f".//{{{_IETF_SYSTEM}}}os-name") or ""
    if not version:
        server = next((e.text for e in root.iter() if _local(e.tag) == "sysNetconfServerId"), None)
        version = server or ""
        platform = platform or (version.split()[0] if version else "")
    return version.strip(), platform.strip()


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
