"""Alarm keys: stable, valid object names, one per (source, cause)."""

from __future__ import annotations

import random
import re
import string

import pytest

from intentloop_intents.alarms import alarm_key

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("kind", "name", "cause", "key"),
    [
        ("Link", "r1-r2", "linkDown", "link-r1-r2-linkdown"),
        ("Device", "pe1", "deviceUnreachable", "device-pe1-deviceunreachable"),
        ("NetworkService", "voip", "slaViolation", "service-voip-slaviolation"),
        ("DeviceConfig", "pe1", "configurationDrift", "deviceconfig-pe1-configurationdrift"),
    ],
)
def test_a_key_reads_as_source_and_cause(kind: str, name: str, cause: str, key: str) -> None:
    assert alarm_key(kind, name, cause) == key


def test_names_that_cannot_be_used_as_they_are_still_give_valid_distinct_keys() -> None:
    names = ["r1.r2", "r1-r2", "R1-R2", "r1_r2", "x" * 80, "x" * 81, "-edge-", "é"]
    keys = [alarm_key("Link", name, "linkDown") for name in names]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert DNS_LABEL.match(key) and len(key) <= 63, key
        assert "linkdown" in key  # the cause stays readable even when shortened
    assert keys[4].startswith("link-xxxx")


def test_keys_are_valid_and_stable_for_any_name() -> None:
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "-._/:"
    for _ in range(500):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 120)))
        kind = rng.choice(["Link", "Device", "NetworkService", "SomethingNew", "Odd Kind"])
        key = alarm_key(kind, name, "transactionFailed")
        assert DNS_LABEL.match(key) and len(key) <= 63, (kind, name, key)
        assert alarm_key(kind, name, "transactionFailed") == key
        assert alarm_key(kind, name, "linkDown") != key
