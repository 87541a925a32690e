"""SNMP GETs/s, table walks/s and whole device polls/s of the agent's poller against one
simulated 48-port switch, next to Prometheus snmp_exporter scraping the same target.

    .venv/bin/python bench/snmp_throughput.py [--seconds 10] [--concurrency 4] [--ports 48]

Peer (Debian packages, besides the project's snmpd):
    apt-get install -y --no-install-recommends prometheus-snmp-exporter wrk

One net-snmp snmpd serves a switch (``simspecs.poe_switch``: sysUpTime, the PoE budget and
``--ports`` rows of IF-MIB). Three workloads, each run for ``--seconds`` with
``--concurrency`` requests in flight on both sides:

- get:  one GET of sysUpTime.0. Ours: ``SnmpClient.get``; the peer: a module that only
  ``get``s it.
- walk: GETBULK walks of the 13 IF-MIB columns the agent's ``switch`` profile reads from this
  device (11 columns plus the 32-bit octet counters it falls back to, since snmpd's
  ``override`` serves no Counter64). Ours: ``SnmpClient.walk_columns``; the peer: a module
  walking the same 13 OIDs.
- poll: a whole device poll. Ours: ``SnmpPoller.poll_all`` over ``--concurrency`` devices
  that all point at the switch (profile ``switch``: GET of 3 scalars, the walks plus the PoE
  tables' columns (empty here), rates, rows with labels -> one DeviceSample each); the peer:
  one scrape of a module with the same GETs, the same walks and a metric with
  ``ifName``/``ifAlias`` lookups per column.

Ours speaks v2c, so it runs on the agent's own BER codec and UDP transport
(``agent.snmp.ber``, ``agent.snmp.v2c``), as the agent does for v2c devices; pysnmp is not
loaded (the bench says so). The peer's scrapes are driven by ``wrk`` (HTTP,
``--concurrency`` connections, one thread), so its rate includes its HTTP and text-format
work, as ours includes building samples. Both use max-repetitions 25. The snmp.yml is
written by hand (0.21 format, no generator). CPU time of each side and of snmpd per
operation is printed too: when snmpd is the limit, the ratio says so. Exit status 3 when a
peer is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EXIT_PEER_MISSING,
    debian_version,
    find_peer,
    machine_line,
    run_wrk,
)
from roomwatch.agent.config import DeviceConfig, SnmpConfig  # noqa: E402
from roomwatch.agent.snmp.client import SnmpClient, SnmpTarget  # noqa: E402
from roomwatch.agent.snmp.poller import SnmpPoller  # noqa: E402
from roomwatch.agent.snmp.profile import ProfileRegistry  # noqa: E402
from roomwatch.agent.snmp.readings import fallback_columns, scalar_oids, table_columns  # noqa: E402
from roomwatch.collector.demo.procs import ManagedProcess, free_port, tcp_open, wait_for  # noqa: E402
from roomwatch.collector.demo.simdevice import SimulatedDevice  # noqa: E402
from roomwatch.collector.demo.simspecs import poe_switch  # noqa: E402

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
MAX_REPETITIONS = 25
IF_INDEX = [{"labelname": "ifIndex", "type": "gauge"}]
# Column OID -> (metric name, type) for the peer's module.
COLUMN_NAMES = {
    "1.3.6.1.2.1.31.1.1.1.1": ("ifName", "DisplayString"),
    "1.3.6.1.2.1.31.1.1.1.18": ("ifAlias", "DisplayString"),
    "1.3.6.1.2.1.2.2.1.8": ("ifOperStatus", "gauge"),
    "1.3.6.1.2.1.2.2.1.7": ("ifAdminStatus", "gauge"),
    "1.3.6.1.2.1.31.1.1.1.15": ("ifHighSpeed", "gauge"),
    "1.3.6.1.2.1.31.1.1.1.6": ("ifHCInOctets", "counter"),
    "1.3.6.1.2.1.31.1.1.1.10": ("ifHCOutOctets", "counter"),
    "1.3.6.1.2.1.2.2.1.14": ("ifInErrors", "counter"),
    "1.3.6.1.2.1.2.2.1.20": ("ifOutErrors", "counter"),
    "1.3.6.1.2.1.2.2.1.13": ("ifInDiscards", "counter"),
    "1.3.6.1.2.1.2.2.1.19": ("ifOutDiscards", "counter"),
    "1.3.6.1.2.1.2.2.1.10": ("ifInOctets", "counter"),
    "1.3.6.1.2.1.2.2.1.16": ("ifOutOctets", "counter"),
}


PSE_PORT_TABLE = "1.3.6.1.2.1.105.1.1.1."  # pethPsePortTable: indexed by group and port


@dataclass(frozen=True)
class Columns:
    """What the agent's switch profile reads from the simulated switch."""

    scalars: list[str]
    walked: list[str]  # first walk, then the fallbacks of the columns this device lacks
    polled: list[str]  # what a whole poll walks: ``walked`` and the profile's other tables

    @classmethod
    def of_switch_profile(cls, served: dict[str, Any]) -> Columns:
        profile = ProfileRegistry.load().get("switch")
        # The interfaces table: the workload both sides have always walked (the profile
        # may read further tables, e.g. PoE ports, which the simulated switch lacks).
        [table] = [t for t in profile.tables if t.name == "interfaces"]
        primary = table_columns(table)
        fallbacks = [
            fallback
            for column, fallback in fallback_columns(table)
            if not any(oid.startswith(column + ".") for oid in served)
        ]
        # A whole poll also walks the other tables (PoE ports and power sources): empty on
        # this switch, but each is a request both sides make.
        others = [c for t in profile.tables if t is not table for c in table_columns(t)]
        return cls(
            scalars=[SYS_UPTIME, *scalar_oids(profile)[1:]],
            walked=primary + fallbacks,
            polled=primary + fallbacks + [c for c in others if c not in primary + fallbacks],
        )


def snmp_exporter_config(columns: Columns, timeout_s: float, retries: int) -> dict[str, Any]:
    """The hand-written snmp.yml (0.21 format): modules get, walk and poll."""
    common = {
        "version": 2,
        "auth": {"community": "public"},
        "max_repetitions": MAX_REPETITIONS,
        "retries": retries,
        "timeout": f"{timeout_s:g}s",
    }
    uptime = {"name": "sysUpTime", "oid": SYS_UPTIME.removesuffix(".0"), "type": "gauge"}
    lookups = [
        {"labels": ["ifIndex"], "labelname": name, "oid": oid, "type": "DisplayString"}
        for oid, (name, kind) in COLUMN_NAMES.items()
        if kind == "DisplayString"
    ]
    column_metrics = []
    for oid in columns.walked:
        name, kind = COLUMN_NAMES[oid]
        metric = {"name": name, "oid": oid, "type": kind, "indexes": IF_INDEX}
        if kind != "DisplayString":
            metric["lookups"] = lookups
        column_metrics.append(metric)
    scalar_metrics = [
        {"name": f"pethMainPse_{oid.split('.')[-2]}", "oid": oid.rsplit(".", 1)[0],
         "type": "gauge", "indexes": [{"labelname": "pethMainPseGroupIndex", "type": "gauge"}]}
        for oid in columns.scalars[1:]
    ]  # fmt: skip
    known = {m["oid"] for m in [*scalar_metrics, *column_metrics]}
    other_metrics = [
        {"name": f"col_{oid.replace('.', '_')}", "oid": oid, "type": "gauge",
         "indexes": [{"labelname": f"index{n}", "type": "gauge"}
                     for n in range(2 if oid.startswith(PSE_PORT_TABLE) else 1)]}
        for oid in columns.polled
        if oid not in columns.walked and oid not in known
    ]  # fmt: skip
    return {
        "get": {**common, "get": [SYS_UPTIME], "metrics": [uptime]},
        "walk": {**common, "walk": columns.walked, "metrics": column_metrics},
        "poll": {
            **common,
            "get": columns.scalars,
            "walk": columns.polled,
            "metrics": [uptime, *scalar_metrics, *column_metrics, *other_metrics],
        },
    }


@dataclass
class Result:
    ops: int
    seconds: float
    own_cpu_s: float
    snmpd_cpu_s: float

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def run_ours(
    work: Callable[[], Awaitable[int]], concurrency: int, seconds: float, snmpd_pid: int
) -> Result:
    """``concurrency`` workers repeat ``work`` (returns operations done) until time is up."""
    await work()  # warm-up: engines, transports, identification
    done = 0
    cpu0, snmpd0 = time.process_time(), cpu_s(snmpd_pid)
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            finished = await work()  # not `done += await ...`: that reads `done` before
            done += finished

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Result(done, elapsed, time.process_time() - cpu0, cpu_s(snmpd_pid) - snmpd0)


def run_peer(
    wrk: str, url: str, concurrency: int, seconds: float, exporter_pid: int, snmpd_pid: int
) -> Result:
    with urllib.request.urlopen(url, timeout=30) as response:  # warm-up
        response.read()
    cpu0, snmpd0 = cpu_s(exporter_pid), cpu_s(snmpd_pid)
    started = time.perf_counter()
    result = run_wrk(wrk, url, threads=1, connections=concurrency, duration_s=seconds)
    elapsed = time.perf_counter() - started
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(f"snmp_exporter: failed scrapes of {url}: {result}")
    # wrk's own window is -d; CPU is counted over the whole call, a little longer.
    window = result.requests / result.requests_per_s if result.requests_per_s else elapsed
    return Result(
        result.requests,
        window,
        (cpu_s(exporter_pid) - cpu0) * window / elapsed,
        (cpu_s(snmpd_pid) - snmpd0) * window / elapsed,
    )


def check_scrape(url: str, ports: int) -> None:
    """The peer's module really reads every row (one ifOperStatus series per port)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    rows = [line for line in text.splitlines() if line.startswith("ifOperStatus{")]
    if len(rows) != ports or 'ifName="port1"' not in text:
        raise RuntimeError(f"snmp_exporter's poll module read {len(rows)} of {ports} rows")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per workload and side")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ports", type=int, default=48)
    args = parser.parse_args()
    print(machine_line())
    exporter_bin = find_peer("prometheus-snmp-exporter", "prometheus-snmp-exporter")
    wrk = find_peer("wrk", "wrk")
    work = Path(tempfile.mkdtemp(prefix="roomwatch-bench-snmp-"))
    switch = SimulatedDevice(poe_switch("sw48", ports=args.ports), workdir=work / "switch")
    exporter: ManagedProcess | None = None
    try:
        switch.start()
        assert switch.pid is not None
        columns = Columns.of_switch_profile(switch.served)
        timeout_s, retries = 2.0, 1
        results = asyncio.run(ours(switch, columns, args, timeout_s, retries))
        peer: dict[str, Result] = {}
        if exporter_bin is not None and wrk is not None:
            config = work / "snmp.yml"
            config.write_text(yaml.safe_dump(snmp_exporter_config(columns, timeout_s, retries)))
            port = free_port()
            exporter = ManagedProcess(
                "snmp_exporter",
                [exporter_bin, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                 "--log.level=warn"],
                work / "snmp_exporter.log",
            )  # fmt: skip
            exporter.start()
            wait_for(lambda: _up(exporter, port), 20, "snmp_exporter")
            assert exporter.proc is not None
            base = f"http://127.0.0.1:{port}/snmp?target=127.0.0.1:{switch.port}&module="
            check_scrape(base + "poll", args.ports)
            for name in results:
                peer[name] = run_peer(
                    wrk, base + name, args.concurrency, args.seconds, exporter.proc.pid, switch.pid
                )
        report(results, peer, columns, args, debian_version("prometheus-snmp-exporter"))
        return 0 if exporter_bin and wrk else EXIT_PEER_MISSING
    finally:
        if exporter is not None:
            exporter.stop()
        switch.stop()
        shutil.rmtree(work, ignore_errors=True)


async def ours(
    switch: SimulatedDevice,
    columns: Columns,
    args: argparse.Namespace,
    timeout_s: float,
    retries: int,
) -> dict[str, Result]:
    assert switch.pid is not None
    target = SnmpTarget(
        switch.address[0], switch.port, switch.credential(), timeout_s=timeout_s, retries=retries
    )
    client = SnmpClient(max_repetitions=MAX_REPETITIONS)
    snmp = SnmpConfig(
        timeout_s=timeout_s, retries=retries, concurrency=args.concurrency,
        max_repetitions=MAX_REPETITIONS,
    )  # fmt: skip
    devices = [
        DeviceConfig(
            id=f"sw-{i}", kind="switch", address=switch.address[0], port=switch.port,
            profile="switch",
        )
        for i in range(args.concurrency)
    ]  # fmt: skip
    poller = SnmpPoller(snmp, devices, ProfileRegistry.load())

    async def get() -> int:
        await client.get(target, [SYS_UPTIME])
        return 1

    async def walk() -> int:
        rows = await client.walk_columns(target, columns.walked)
        assert len(rows[columns.walked[2]]) == args.ports, "the walk missed rows"
        return 1

    async def poll() -> int:
        samples = await poller.poll_all()
        assert all(s.reachable and len(s.tables["interfaces"]) == args.ports for s in samples)
        return len(samples)

    results: dict[str, Result] = {}
    try:
        results["get"] = await run_ours(get, args.concurrency, args.seconds, switch.pid)
        results["walk"] = await run_ours(walk, args.concurrency, args.seconds, switch.pid)
        # poll_all already runs --concurrency devices at once: one caller.
        results["poll"] = await run_ours(poll, 1, args.seconds, switch.pid)
    finally:
        client.close()
        poller.close()
    return results


def report(
    ours_: dict[str, Result],
    peer: dict[str, Result],
    columns: Columns,
    args: argparse.Namespace,
    peer_version: str,
) -> None:
    print(
        f"target: one snmpd, {args.ports}-port switch; concurrency {args.concurrency} on both "
        f"sides; {args.seconds:g} s per workload; walk = {len(columns.walked)} columns x "
        f"{args.ports} rows, max-repetitions {MAX_REPETITIONS}; poll walks "
        f"{len(columns.polled)} columns"
    )
    print(f"peer: prometheus-snmp-exporter {peer_version}, scraped by wrk")
    pysnmp = "loaded" if "pysnmp" in sys.modules else "not loaded"
    print(f"ours: SNMPv2c through agent.snmp.ber / agent.snmp.v2c (pysnmp {pysnmp})")
    header = f"{'workload':<8} {'side':<14} {'ops/s':>9} {'CPU ms/op':>10} {'snmpd ms/op':>12}"
    print(header)
    for name, result in ours_.items():
        for side, got in (("roomwatch", result), ("snmp_exporter", peer.get(name))):
            if got is None:
                print(f"{name:<8} {side:<14} {'n/a (peer missing)':>20}")
                continue
            print(
                f"{name:<8} {side:<14} {got.rate:9.1f} {got.own_cpu_s / got.ops * 1000:10.2f} "
                f"{got.snmpd_cpu_s / got.ops * 1000:12.2f}"
            )
    for name, result in ours_.items():
        other = peer.get(name)
        ratio = f"{result.rate / other.rate:.2f}" if other else "n/a (peer missing)"
        print(f"ratio {name} roomwatch / snmp_exporter: {ratio} (goal >= 1.0)")


def _up(process: ManagedProcess, port: int) -> bool:
    process.check_alive()
    return tcp_open(port)


if __name__ == "__main__":
    sys.exit(main())
