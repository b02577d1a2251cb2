"""NETCONF device latency and a network-wide transaction's cost over its slowest device.

Run from the repository root:  python -m benchmarks.device_latency  [--quick]

Part 1, one lab NETCONF router (real netconfd behind sshd and the lab's relay): raw ncclient
RPCs and the adapter's phases. The floor is a raw `<get-config>` round trip; the same RPC
through an sshd that runs `netconf-subsystem` directly (no relay) shows what the lab's
fault-switch relay costs per RPC.

Part 2, ten lab routers: each device's own change (stage, commit confirmed, read back,
confirm) measured alone gives the floor — a transaction cannot be faster than its slowest
device. Then the same change as one transaction across all ten; target ≤ 1.5 x floor.

Part 3: what ncclient's lowered transport tick costs while sessions sit idle.

All processes share a 2-core machine with whatever else runs there: read ratios, not
absolutes, and see the load average printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ncclient
import ncclient.transport.session
import structlog

from intentloop_adapters import netconf_session
from intentloop_adapters.netconf import NetconfAdapter
from intentloop_adapters.transactions import Outcome, apply_transaction
from intentloop_intents.device import DeviceConfigTree, Interface, Vlan
from intentloop_intents.device import xml as device_xml
from intentloop_lab.netconf_device import NETCONF_SUBSYSTEM, SSHD, NetconfDevice

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_device(name: str, workdir: Path) -> NetconfDevice:
    for attempt in range(3):
        device = NetconfDevice(name=name, workdir=workdir / f"try{attempt}", port=free_port())
        try:
            device.start()
            return device
        except RuntimeError:  # the port was taken meanwhile
            continue
    raise RuntimeError(f"{name} did not start")


def raw_session(device: NetconfDevice, port: int | None = None) -> Any:
    """A plain ncclient session (host key verified), for the floor measurements."""
    return netconf_session.open_session(
        netconf_session.SessionParams(
            host="127.0.0.1",
            port=port or device.port,
            username=device.username,
            private_key=device.client_private_key_pem,
            known_host_key=netconf_session.KnownHostKey.parse(device.host_public_key),
            connect_timeout_s=10,
            rpc_timeout_s=30,
        )
    )


def tree(name: str, variant: int) -> DeviceConfigTree:
    """Two alternating configurations, so every measured change changes something."""
    return DeviceConfigTree(
        interfaces=(
            Interface(name="eth1", description=f"{name} core", mtu=9000 if variant else 1500),
            Interface(name="eth2", description="customer", owners=frozenset({f"t/s{variant}"})),
        ),
        vlans=(Vlan(vlan_id=100 + variant, name=f"svc-{variant}"),),
    )


def stats(samples_ms: list[float], rounds: int = 5) -> dict[str, Any]:
    ordered = sorted(samples_ms)
    size = max(1, len(ordered) // rounds)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "min_ms": round(ordered[0], 3),
        "round_medians_ms": [
            round(statistics.median(samples_ms[i : i + size]), 3)
            for i in range(0, len(samples_ms), size)
        ][:rounds],
        "samples": len(ordered),
    }


async def timed(action: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def adapter_for(device: NetconfDevice, port: int | None = None) -> NetconfAdapter:
    return NetconfAdapter(
        name=device.name,
        host="127.0.0.1",
        port=port or device.port,
        username=device.username,
        private_key=device.client_private_key_pem,
        known_host_key=device.host_public_key,
    )


def start_direct_sshd(device: NetconfDevice) -> tuple[Any, int]:
    """A second sshd for the same netconfd whose subsystem is netconf-subsystem itself."""
    port = free_port()
    workdir = device.workdir
    client_pub = (workdir / "client_ed25519_key.pub").read_text()
    (workdir / "authorized_keys_direct").write_text(client_pub)
    # netconf-subsystem takes the port from SSH_CONNECTION and netconfd accepts only its own
    # --port: a one-line wrapper (exec, so nothing stays between client and server) says so.
    wrapper = workdir / "netconf-direct.sh"
    target = f"{device.port}@{workdir / 'ncxserver.sock'}"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'SSH_CONNECTION="127.0.0.1 0 127.0.0.1 {device.port}" '
        f"exec {NETCONF_SUBSYSTEM} --ncxserver-sockname={target}\n"
    )
    wrapper.chmod(0o755)
    config = (workdir / "sshd_config").read_text().splitlines()
    replaced = []
    for line in config:
        key = line.split(" ", 1)[0]
        if key == "ListenAddress":
            line = f"ListenAddress 127.0.0.1:{port}"
        elif key == "PidFile":
            line = f"PidFile {workdir / 'sshd_direct.pid'}"
        elif key == "AuthorizedKeysFile":
            line = f"AuthorizedKeysFile {workdir / 'authorized_keys_direct'}"
        elif key == "Subsystem":
            line = f"Subsystem netconf {wrapper}"
        replaced.append(line)
    (workdir / "sshd_direct_config").write_text("\n".join(replaced) + "\n")
    process = subprocess.Popen(
        [SSHD, "-D", "-f", str(workdir / "sshd_direct_config"), "-E", str(workdir / "direct.log")]
    )
    time.sleep(0.2)  # sshd listens within ~20 ms; the first connect retries anyway
    return process, port


async def single_device(device: NetconfDevice, runs: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    session = raw_session(device)
    filt = ("subtree", device_xml.subtree_filter())

    async def raw_get(on: Any = session) -> None:
        await asyncio.to_thread(on.get_config, source="running", filter=filt)

    rows["floor: raw ncclient <get-config> RPC"] = stats(await timed(raw_get, runs))
    sshd, port = start_direct_sshd(device)
    try:
        direct = await asyncio.to_thread(raw_session, device, port)
        rows["raw <get-config> without the lab relay"] = stats(
            await timed(lambda: raw_get(direct), runs)
        )
        direct.close_session()
    finally:
        sshd.terminate()
        sshd.wait()

    variant = [0]

    def edit_commit() -> None:
        variant[0] ^= 1
        edit = device_xml.render_config(tree(device.name, variant[0]))
        session.edit_config(target="candidate", config=edit)
        session.commit()

    rows["raw ncclient edit-config + commit (whole tree)"] = stats(
        await timed(lambda: asyncio.to_thread(edit_commit), runs)
    )
    session.close_session()
    adapter = adapter_for(device)
    await adapter.connect()
    phases: dict[str, list[float]] = {"stage": [], "commit": [], "confirm": [], "apply": []}
    for i in range(runs):
        desired = tree(device.name, i % 2)
        t0 = time.perf_counter()
        await adapter.stage(desired)
        t1 = time.perf_counter()
        await adapter.commit(60)
        t2 = time.perf_counter()
        await adapter.confirm()
        t3 = time.perf_counter()
        phases["stage"].append((t1 - t0) * 1000)
        phases["commit"].append((t2 - t1) * 1000)
        phases["confirm"].append((t3 - t2) * 1000)
        phases["apply"].append((t3 - t0) * 1000)
    rows["adapter stage (lock, get-config, minimal edit-config)"] = stats(phases["stage"])
    rows["adapter commit confirmed (persist)"] = stats(phases["commit"])
    rows["adapter confirm (+ unlock)"] = stats(phases["confirm"])
    rows["adapter stage + commit confirmed + confirm"] = stats(phases["apply"])
    await adapter.close()
    return rows


def lab_cpu_s(devices: list[NetconfDevice]) -> float:
    """CPU seconds used so far by the lab routers: netconfd, sshd and everything below it."""
    roots: set[int] = set()
    for device in devices:
        roots.update(p.pid for p in (device._netconfd, device._sshd) if p is not None)
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick

    def in_lab(pid: int) -> bool:
        while pid > 1:
            if pid in roots:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(cpu for pid, cpu in used.items() if in_lab(pid))


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Flipper:
    """Each device alternates between two configurations, so every change changes something."""

    def __init__(self, adapters: list[NetconfAdapter]) -> None:
        self.adapters = {a.name: a for a in adapters}
        self.variant = dict.fromkeys(self.adapters, 0)

    def plan(self, names: list[str]) -> dict[str, tuple[Any, DeviceConfigTree]]:
        for name in names:
            self.variant[name] ^= 1
        return {n: (self.adapters[n], tree(n, self.variant[n])) for n in names}


async def committed(
    plan: dict[str, tuple[Any, DeviceConfigTree]], inside: list[float] | None = None
) -> float:
    """Wall ms of one committed transaction; `inside` gets its slowest device's own ms."""
    started = time.perf_counter()
    result = await apply_transaction(plan, transaction_id="bench")
    elapsed = (time.perf_counter() - started) * 1000
    assert result.outcome is Outcome.COMMITTED, result.message
    if inside is not None:
        inside.append(max(sum(d.timings_ms.values()) for d in result.devices.values()))
    return elapsed


async def transaction(devices: list[NetconfDevice], runs: int) -> dict[str, Any]:
    """Solo changes and transactions of 1, 2, 5, N devices, interleaved round by round so
    that drift in the machine's background load affects floor and transactions alike."""
    adapters = [adapter_for(device) for device in devices]
    await asyncio.gather(*(a.connect() for a in adapters))
    names = [a.name for a in adapters]
    sizes = sorted({1, 2, 5, len(names)} & set(range(1, len(names) + 1)))
    flipper = Flipper(adapters)
    for _ in range(3):  # warm-up: sessions, caches, code paths
        await committed(flipper.plan(names))
    solo: dict[str, list[float]] = {name: [] for name in names}
    walls: dict[int, list[float]] = {size: [] for size in sizes}
    inside: dict[int, list[float]] = {size: [] for size in sizes}
    cpu: dict[int, list[float]] = {size: [0.0, 0.0] for size in sizes}
    for _ in range(runs):
        for name in names:
            solo[name].append(await committed(flipper.plan([name])))
        for size in sizes:
            lab0 = lab_cpu_s(devices)  # (scanning /proc costs CPU: keep it outside)
            client0 = client_cpu_s()
            walls[size].append(await committed(flipper.plan(names[:size]), inside[size]))
            cpu[size][0] += client_cpu_s() - client0
            cpu[size][1] += lab_cpu_s(devices) - lab0
    await asyncio.gather(*(a.close() for a in adapters))
    solo_medians = {name: statistics.median(samples) for name, samples in solo.items()}
    sweep = []
    for size in sizes:
        floor = max(solo_medians[name] for name in names[:size])
        wall = stats(walls[size])
        client_ms, lab_ms = (1000 * used / runs for used in cpu[size])
        sweep.append(
            {
                "devices": size,
                "floor_ms": round(floor, 3),
                "transaction": wall,
                "ratio_median_over_floor": round(wall["median_ms"] / floor, 3),
                "slowest_device_inside_ms": round(statistics.median(inside[size]), 3),
                "client_cpu_ms_per_transaction": round(client_ms, 2),
                "lab_cpu_ms_per_transaction": round(lab_ms, 2),
                "cpu_bound_ms": round((client_ms + lab_ms) / (os.cpu_count() or 1), 2),
            }
        )
    return {
        "solo_median_ms": {k: round(v, 3) for k, v in solo_medians.items()},
        "sweep": sweep,
        "target_ratio": TARGET_RATIO,
        "runs": runs,
    }


async def idle_sessions(devices: list[NetconfDevice], seconds: float) -> dict[str, Any]:
    adapters = [adapter_for(device) for device in devices]
    await asyncio.gather(*(a.connect() for a in adapters))
    before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(seconds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(a.close() for a in adapters))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "sessions": len(adapters),
        "tick_s": ncclient.transport.session.TICK,
        "cpu_percent_of_one_core": round(100 * cpu / seconds, 2),
        "seconds": seconds,
    }


def start_all(count: int, base: Path) -> list[NetconfDevice]:
    names = [f"r{i + 1}" for i in range(count)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda name: start_device(name, base / name), names))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# NETCONF device latency and network-wide transactions",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']}, load average at start {report['load_average']}",
        "",
        "## One device (netconfd behind sshd and the lab relay)",
        "",
        "| operation | median ms | p99 ms | min ms | round medians ms | samples |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, row in report["single_device"].items():
        rounds = " / ".join(str(x) for x in row["round_medians_ms"])
        lines.append(
            f"| {name} | {row['median_ms']} | {row['p99_ms']} | {row['min_ms']} | {rounds} "
            f"| {row['samples']} |"
        )
    tx = report["transaction"]
    lines += [
        "",
        "## Transactions (stage, commit confirmed, verify, confirm) by number of devices",
        "",
        "Floor: the slowest of the devices' own change, each measured alone (median). "
        "Slowest device inside: the longest sum of one device's phase times within the "
        "transaction (median). CPU bound: client plus lab-router CPU per transaction divided "
        "by the cores — the routers share the controller's cores here, unlike a real network.",
        "",
        "| devices | floor ms | wall median ms | wall p99 ms | x floor "
        "| slowest device inside ms | client CPU ms | lab CPU ms | CPU bound ms "
        "| CPU bound x floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in tx["sweep"]:
        lines.append(
            f"| {row['devices']} | {row['floor_ms']} | {row['transaction']['median_ms']} "
            f"| {row['transaction']['p99_ms']} | {row['ratio_median_over_floor']} "
            f"| {row['slowest_device_inside_ms']} | {row['client_cpu_ms_per_transaction']} "
            f"| {row['lab_cpu_ms_per_transaction']} | {row['cpu_bound_ms']} "
            f"| {round(row['cpu_bound_ms'] / row['floor_ms'], 2)} |"
        )
    lines += [
        "",
        f"Target: median <= {tx['target_ratio']} x floor; {tx['runs']} transactions per row. "
        "Where the CPU bound alone exceeds the target, this machine cannot meet it: the "
        "simulated routers and the controller compete for the same cores.",
        "",
        "## Idle cost of open sessions",
        "",
    ]
    idle = report["idle"]
    lines.append(
        f"{idle['sessions']} idle sessions at tick {idle['tick_s']} s: "
        f"{idle['cpu_percent_of_one_core']} % of one core (over {idle['seconds']} s)."
    )
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-netconf-") as tmp:
        devices = start_all(args.devices, Path(tmp))
        try:
            single = await single_device(devices[0], args.runs)
            tx = await transaction(devices, args.tx_runs)
            idle = await idle_sessions(devices, 2.0)
        finally:
            for device in devices:
                device.stop()
    return {"single_device": single, "transaction": tx, "idle": idle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    parser.add_argument("--devices", type=int, default=10)
    args = parser.parse_args()
    args.runs, args.tx_runs = (10, 5) if args.quick else (50, 20)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = asyncio.run(run(args))
    report["command"] = "python -m benchmarks.device_latency" + (" --quick" if args.quick else "")
    report["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, CPython {platform.python_version()}, "
        f"ncclient {ncclient.__version__}"
    )
    report["load_average"] = load
    RESULTS.mkdir(exist_ok=True)
    stem = "device-latency-quick" if args.quick else "device-latency"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
