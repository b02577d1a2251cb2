"""The OpenConfig profile's cost: one service added to a gNMI router already holding N.

Run from the repository root:  python -m benchmarks.openconfig_latency  [--quick]

Two lab gNMI targets in this process, over TLS with the lab CA: one serving the
`intentloop-device` model (validated by the lab's schema table), one serving OpenConfig
(every Set validated by ygot's generated schema through the `ocvalidate` pipe). For each
N the router is first given N L2 services (VLAN, two sub-interfaces, a policer); the
figure is the median and p90 of a full change adding one more service (stage + commit +
verify read + confirm through `GnmiAdapter`). Beside it: the validator alone (one pipe
round trip for the whole N-service document), the floor the OpenConfig router pays per
Set. A 2-core machine shared with other work: read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import percentile, write
from intentloop_adapters.gnmi import GnmiAdapter
from intentloop_intents.device import DeviceConfigTree, Interface, Policer, SubInterface, Vlan
from intentloop_intents.device import openconfig as oc
from intentloop_lab import ocvalidator
from intentloop_lab.gnmi_target import GnmiTarget
from intentloop_lab.pki import LabPki


def services(n: int) -> DeviceConfigTree:
    owner = frozenset({"bench/svc"})
    vlans = range(1, n + 1)
    return DeviceConfigTree(
        interfaces=(Interface(name="eth1", owners=owner), Interface(name="eth2", owners=owner)),
        vlans=tuple(Vlan(vlan_id=v, name=f"svc-{v}", owners=owner) for v in vlans),
        policers=tuple(Policer(name=f"p{v}", rate_mbps=10 + v, owners=owner) for v in vlans),
        subinterfaces=tuple(
            SubInterface(parent=p, vlan_id=v, policer=f"p{v}", owners=owner)
            for v in vlans
            for p in ("eth1", "eth2")
        ),
    )


async def change_ms(adapter: GnmiAdapter, base: DeviceConfigTree, more: DeviceConfigTree) -> float:
    started = time.perf_counter()
    await adapter.stage(more)
    await adapter.commit(confirm_timeout_s=60)
    assert await adapter.get_config() == adapter.held(more)
    await adapter.confirm()
    elapsed = (time.perf_counter() - started) * 1000
    await adapter.stage(base)  # back, untimed
    await adapter.commit(confirm_timeout_s=60)
    await adapter.confirm()
    return elapsed


async def measure(model: str, pki: LabPki, sizes: list[int], rounds: int) -> dict[int, list[float]]:
    tls = pki.server("gnmi-lab")
    target = GnmiTarget(
        name=f"b-{model}", port=0, interfaces=("eth1", "eth2"), tls=tls, model=model
    )
    target.start()
    adapter = GnmiAdapter(
        name=target.name, host="127.0.0.1", port=target.port, ca_pem=tls.ca_pem(), model=model
    )
    await adapter.connect()
    out: dict[int, list[float]] = {}
    try:
        for n in sizes:
            base, more = services(n), services(n + 1)
            await change_ms(adapter, base, base)
            out[n] = [await change_ms(adapter, base, more) for _ in range(rounds)]
    finally:
        await adapter.close()
        target.stop()
    return out


def validator_ms(sizes: list[int], rounds: int) -> dict[int, list[float]]:
    validator = ocvalidator.shared()
    out = {}
    for n in sizes:
        document = oc.render(services(n))
        validator.check(document)
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            assert validator.check(document) is None
            samples.append((time.perf_counter() - started) * 1000)
        out[n] = samples
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes, rounds = ([1, 50], 5) if args.quick else ([1, 100, 400], 15)
    with tempfile.TemporaryDirectory() as tmp:
        pki = LabPki(Path(tmp))
        results = {
            m: asyncio.run(measure(m, pki, sizes, rounds)) for m in ("intentloop", "openconfig")
        }
    validate = validator_ms(sizes, rounds)

    def row(samples: list[float]) -> str:
        return f"{statistics.median(samples):.1f} / {percentile(samples, 90):.1f}"

    lines = [
        "| services on the router | intentloop model: change ms (median / p90) "
        "| OpenConfig: change ms | ocvalidate alone: ms |",
        "|---|---|---|---|",
    ]
    data: dict[str, Any] = {"rounds": rounds, "sizes": sizes, "results": {}}
    for n in sizes:
        lines.append(
            f"| {n} | {row(results['intentloop'][n])} | {row(results['openconfig'][n])} "
            f"| {row(validate[n])} |"
        )
        data["results"][str(n)] = {
            "intentloop_ms": results["intentloop"][n],
            "openconfig_ms": results["openconfig"][n],
            "ocvalidate_ms": validate[n],
        }
    command = "python -m benchmarks.openconfig_latency" + (" --quick" if args.quick else "")
    write("openconfig-latency", data, "\n".join(lines), command)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
