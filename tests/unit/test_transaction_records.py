"""Transaction records stay bounded: in size (a batch across many devices fits etcd's
request limit) and in number (batch records are pruned like single-intent ones)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intentloop_adapters import transactions as tx
from intentloop_operator import changes, kube


def _result(devices: int, diff_chars: int) -> tx.TransactionResult:
    return tx.TransactionResult(
        transaction_id="t",
        outcome=tx.Outcome.COMMITTED,
        devices={
            f"r{i}": tx.DeviceResult(device=f"r{i}", changed=True, native_diff="x" * diff_chars)
            for i in range(devices)
        },
    )


def test_a_batch_across_sixty_devices_with_large_diffs_stays_far_below_etcds_limit() -> None:
    status = changes.transaction_status(_result(60, 60_000), "2026-12-05T00:00:00Z")
    size = len(json.dumps(status))
    assert size < 600_000, size  # 60 x 60 kB whole would be 3.6 MB: refused by etcd
    assert all("more characters not kept" in d["diff"] for d in status["devices"])


def test_a_small_change_is_recorded_whole() -> None:
    status = changes.transaction_status(_result(2, 5_000), "2026-12-05T00:00:00Z")
    assert [len(d["diff"]) for d in status["devices"]] == [5_000, 5_000]


async def test_batch_records_are_pruned_to_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [
        {
            "metadata": {
                "name": f"b{i:03d}",
                "creationTimestamp": f"2026-12-05T00:{i // 60:02d}:{i % 60:02d}Z",
            }
        }
        for i in range(changes.KEEP_BATCHES + 7)
    ]
    asked: list[str] = []
    deleted: list[str] = []

    async def list_namespaced(plural: str, namespace: str, selector: str) -> list[Any]:
        asked.append(selector)
        return list(reversed(records))

    async def delete_object(plural: str, name: str, namespace: str) -> None:
        deleted.append(name)

    monkeypatch.setattr(kube, "list_namespaced", list_namespaced)
    monkeypatch.setattr(kube, "delete_object", delete_object)
    await changes._prune("tenant", f"{changes.BATCH_LABEL}=true")
    assert asked == ["intentloop.io/batch=true"]
    assert deleted == [f"b{i:03d}" for i in range(7)]  # the oldest go
