"""Collector ingest throughput next to the raw write ceiling of the same TSDB.

    .venv/bin/python bench/ingest_bench.py [--agents 200] [--messages 20000] [--metrics 30]
        [--load mosquitto_pub|paho] [--collector-set SECTION.KEY=VALUE] [--py-spy FILE]
        [--collectors N [--partitions 16]]

Starts a real mosquitto, two VictoriaMetrics (one behind the collector, one for the raw
ceiling) and the collector as its own process, all on free loopback ports. The simulated
agents (``--load``: one ``mosquitto_pub`` per agent, package mosquitto-clients, or Python
processes of paho clients) send ``--messages`` metrics messages of ``--metrics`` values
each, QoS 1, from ``--agents`` agents; the clock runs from the first publish until the
collector has stored the last message (its ``roomwatch_collector_messages_total``). Every
value is then counted in the TSDB. The peer: the same values written straight to
VictoriaMetrics with influxdb-client in batches of 5,000 lines. Prints the machine and its
load average, messages/s, values/s, the ratio to the raw ceiling, and the CPU seconds each
process used (the collector's per message: the figure that moves least on a shared
machine); ``--py-spy`` samples the collector process while it ingests.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import yaml
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EXIT_PEER_MISSING,
    find_peer,
    machine_line,
    report_py_spy,
    start_py_spy,
)
from roomwatch.agent import wire  # noqa: E402
from roomwatch.collector.demo.broker import MosquittoBroker  # noqa: E402
from roomwatch.collector.demo.procs import ManagedProcess, free_port, wait_for  # noqa: E402
from roomwatch.collector.demo.tsdb import VictoriaMetrics  # noqa: E402

PASSWORD = "bench-password"
# Sample times start a day back, whole hour (the same in every publisher process): within
# the collector's ingest.limits (backfill 8 days, nothing ahead of its clock) for up to
# 86,400 messages per agent, one second apart.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
MAX_PER_AGENT = 86_400


def agent_id(i: int) -> str:
    return f"bench-{i:05d}"


def message(agent: int, seq: int, metrics: int) -> bytes:
    sample = wire.DeviceSample(
        device="enc-1",
        kind="encoder",
        reachable=True,
        rtt_ms=1.0,
        metrics={f"m{k:02d}": float(seq % 97 + k) for k in range(metrics - 2)},
    )
    msg = wire.MetricsMessage(
        agent=agent_id(agent),
        seq=seq,
        ts=T0 + timedelta(seconds=seq),
        interval_s=10,
        devices=[sample],
    )
    return wire.encode(msg)


def publisher(
    port: int,
    agents: range,
    per_agent: int,
    metrics: int,
    go: EventType,
    done: mp.Queue[float],
) -> None:
    clients = []
    for i in agents:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=agent_id(i), protocol=mqtt.MQTTv5
        )
        client.username_pw_set(agent_id(i), PASSWORD)
        client.max_inflight_messages_set(100)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append((i, client))
    payloads = {i: [message(i, s, metrics) for s in range(1, per_agent + 1)] for i in agents}
    go.wait()
    infos = []
    for s in range(per_agent):
        for i, client in clients:
            infos.append(
                client.publish(wire.topic(agent_id(i), wire.Kind.METRICS), payloads[i][s], qos=1)
            )
    for info in infos:
        info.wait_for_publish(120)
    done.put(time.perf_counter())  # the broker has acknowledged every message
    for _, client in clients:
        client.disconnect()
        client.loop_stop()


def scrape(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def wait_stored(url: str, name: str, total: int, timeout_s: float) -> None:
    """Poll the collector's counter until it reaches ``total``. Each scrape costs the
    collector CPU (its /metrics also queries SQL), so poll rarely while the end is far and
    every 20 ms near it."""
    started = time.perf_counter()
    while (count := scrape(url, name)) < total:
        elapsed = time.perf_counter() - started
        if elapsed > timeout_s:
            raise TimeoutError(f"{count:.0f} of {total} messages stored after {timeout_s:.0f} s")
        left_s = (total - count) * elapsed / count if count else 0.0
        time.sleep(min(0.5, max(0.02, left_s / 3)))


def count_values(tsdb: VictoriaMetrics, selector: str, expected: int, patience_s: float) -> int:
    """Values stored under ``selector``. VictoriaMetrics may show a just-written batch a
    moment after ``force_flush`` (seen once in a run with 2,000-message batches; a restart on
    the same data found every value): count again until all are there or patience ends."""
    deadline = time.monotonic() + patience_s
    while True:
        stored = sum(len(s["values"]) for s in tsdb.export(selector))
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(1.0)


def raw_ceiling(tsdb: VictoriaMetrics, agents: int, per_agent: int, metrics: int) -> float:
    """Values/s writing the same data directly, 5,000 lines per request."""
    lines = []
    for s in range(1, per_agent + 1):
        for i in range(agents):
            fields = ",".join(f"m{k:02d}={float(s % 97 + k)}" for k in range(metrics - 2))
            ts_ms = int((T0 + timedelta(seconds=s)).timestamp() * 1000)
            lines.append(
                f"encoder,site=s,room=r{i},agent={agent_id(i)},device=enc-1,kind=encoder "
                f"reachable=1,rtt_ms=1,{fields} {ts_ms}"
            )
    client = InfluxDBClient(url=tsdb.url, token="-", org="roomwatch")
    write = client.write_api(write_options=SYNCHRONOUS)
    started = time.perf_counter()
    for start in range(0, len(lines), 5000):
        write.write("roomwatch", "roomwatch", lines[start : start + 5000], WritePrecision.MS)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    client.close()
    return len(lines) * metrics / elapsed


class PahoLoad:
    """``--publishers`` Python processes, each with one paho client per agent (the load
    the first rows of docs/performance.md were measured with; it needs ~0.8 of a core at
    5,000 messages/s on the machine it shares with the collector)."""

    def __init__(self, port: int, agents: int, per_agent: int, metrics: int, count: int):
        self.go: EventType = mp.Event()
        self.done: mp.Queue[float] = mp.Queue()
        shares = [range(k, agents, count) for k in range(count)]
        self.procs = [
            mp.Process(target=publisher, args=(port, share, per_agent, metrics, self.go, self.done))
            for share in shares
        ]
        for proc in self.procs:
            proc.start()

    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs if proc.pid is not None]

    def start(self) -> None:
        self.go.set()

    def finished_at(self) -> float:
        """When the broker had acknowledged every message (``time.perf_counter``)."""
        finished = max(self.done.get(timeout=120) for _ in self.procs)
        for proc in self.procs:
            proc.join(60)
        return finished

    def stop(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()


class MosquittoPubLoad:
    """One ``mosquitto_pub -l`` (C, libmosquitto) per agent, fed its messages on stdin: the
    agents' side costs the shared machine little, so the collector is what is measured."""

    def __init__(self, port: int, agents: int, per_agent: int, metrics: int, binary: str):
        self.procs = [
            subprocess.Popen(
                [
                    *(binary, "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1"),
                    *("-i", agent_id(i), "-u", agent_id(i), "-P", PASSWORD, "-l"),
                    *("-t", wire.topic(agent_id(i), wire.Kind.METRICS)),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
            )
            for i in range(agents)
        ]
        self.payloads = [
            b"".join(message(i, s, metrics) + b"\n" for s in range(1, per_agent + 1))
            for i in range(agents)
        ]
        self._finished: list[float] = []
        self._feeders: list[threading.Thread] = []

    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def start(self) -> None:
        self._feeders = [
            threading.Thread(target=self._feed, args=(proc, payload))
            for proc, payload in zip(self.procs, self.payloads, strict=True)
        ]
        for feeder in self._feeders:
            feeder.start()

    def _feed(self, proc: subprocess.Popen[bytes], payload: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(payload)
        proc.stdin.close()  # at the end of its input mosquitto_pub finishes and disconnects
        proc.wait(120)
        self._finished.append(time.perf_counter())

    def finished_at(self) -> float:
        for feeder in self._feeders:
            feeder.join(120)
        if any(proc.returncode != 0 for proc in self.procs):
            raise RuntimeError("a mosquitto_pub failed: not every message was published")
        return max(self._finished)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> int:
    args = parse_args()
    print(machine_line())
    load_binary = None
    if args.load == "mosquitto_pub":
        load_binary = find_peer("mosquitto_pub", "mosquitto-clients")
        if load_binary is None:
            print("or run with --load paho")
            return EXIT_PEER_MISSING
    per_agent = max(1, args.messages // args.agents)
    if per_agent > MAX_PER_AGENT:
        print(f"at most {MAX_PER_AGENT} messages per agent (one second apart from T0)")
        return 2
    total = per_agent * args.agents
    if args.collectors:
        from bench.ingest_group import main_group

        return main_group(args, per_agent, load_binary)
    work = Path(tempfile.mkdtemp(prefix="roomwatch-bench-ingest-"))

    broker = MosquittoBroker(work / "broker")
    broker.add_user("collector", PASSWORD, collector=True)
    for i in range(args.agents):
        broker.add_user(agent_id(i), PASSWORD)
    tsdb, raw_tsdb = VictoriaMetrics(work / "tsdb"), VictoriaMetrics(work / "raw")
    collector: ManagedProcess | None = None
    load: PahoLoad | MosquittoPubLoad | None = None
    try:
        broker.start()
        tsdb.start()
        raw_tsdb.start()
        api_port = free_port()
        collector = start_collector(work, args, broker.port, tsdb.url, api_port)
        metrics_url = f"http://127.0.0.1:{api_port}/metrics"

        if load_binary is not None:
            load = MosquittoPubLoad(broker.port, args.agents, per_agent, args.metrics, load_binary)
        else:
            load = PahoLoad(broker.port, args.agents, per_agent, args.metrics, args.publishers)
        time.sleep(2.0)  # connections up
        assert collector.proc is not None and tsdb.process.proc is not None
        watched = {
            "collector": psutil.Process(collector.proc.pid),
            "mosquitto": psutil.Process(broker.pid),
            "victoria-metrics": psutil.Process(tsdb.process.proc.pid),
        }
        cpu_before = {name: _cpu_s(p) for name, p in watched.items()}
        load_cpu_before = sum(_cpu_s(psutil.Process(pid)) for pid in load.pids())
        children_before = _children_cpu_s()
        spy = start_py_spy(args.py_spy, collector.proc.pid, 600)
        started = time.perf_counter()
        load.start()
        wait_stored(metrics_url, 'roomwatch_collector_messages_total{kind="metrics"}', total, 600)
        elapsed = time.perf_counter() - started
        load_1m = os.getloadavg()[0]
        cpu_used = {n: _cpu_s(p) - cpu_before[n] for n, p in watched.items()}
        batches = scrape(metrics_url, "roomwatch_collector_batches_total")
        if spy is not None and args.py_spy is not None:
            spy.send_signal(signal.SIGINT)  # stop sampling now: py-spy writes what it has
            report_py_spy(spy, args.py_spy)
        published_s = load.finished_at() - started
        # The load's processes have exited and been waited for: their whole CPU time.
        cpu_used[f"agents ({args.load})"] = _children_cpu_s() - children_before - load_cpu_before

        values_per_msg = args.metrics  # 28 metrics + reachable + rtt_ms
        stored = count_values(tsdb, '{__name__=~"encoder_.*"}', total * values_per_msg, 30)
        ceiling = raw_ceiling(raw_tsdb, args.agents, per_agent, args.metrics)
        msg_rate = total / elapsed
        value_rate = msg_rate * values_per_msg
        print(f"messages: {total} of {args.metrics} values from {args.agents} agents")
        print(
            f"collector: {msg_rate:,.0f} messages/s, {value_rate:,.0f} values/s ({elapsed:.1f} s)"
        )
        print(f"stored in TSDB: {stored} of {total * values_per_msg} values")
        print(f"agents: every message acknowledged by the broker after {published_s:.1f} s")
        print(f"batches: {batches:.0f} ({total / max(batches, 1):.0f} messages each on average)")
        print(
            f"raw TSDB write ceiling (influxdb-client, 5000 lines/batch): {ceiling:,.0f} values/s"
        )
        print(f"ratio collector / raw ceiling: {value_rate / ceiling:.2f}")
        print(f"load average (1 min) when the last message was stored: {load_1m:.2f}")
        print(
            "CPU seconds during ingest: "
            + ", ".join(f"{n} {s:.1f}" for n, s in cpu_used.items() if s >= 0)
            + f" (of {elapsed * (os.cpu_count() or 1):.1f} available); collector "
            + f"{cpu_used['collector'] / total * 1e6:.0f} us per message"
        )
        return 0 if stored == total * values_per_msg else 1
    finally:
        if load is not None:
            load.stop()
        if collector is not None:
            collector.stop()
        tsdb.stop()
        raw_tsdb.stop()
        broker.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--metrics", type=int, default=30)
    parser.add_argument(
        "--load",
        choices=["mosquitto_pub", "paho"],
        default="mosquitto_pub",
        help="the simulated agents: one mosquitto_pub per agent (C), or --publishers Python "
        "processes of paho clients",
    )
    parser.add_argument("--publishers", type=int, default=2, help="with --load paho")
    parser.add_argument(
        "--collectors",
        type=int,
        default=0,
        metavar="N",
        help="a collector group on PostgreSQL instead: 1 member, then N, side by side "
        "(bench/ingest_group.py)",
    )
    parser.add_argument(
        "--partitions", type=int, default=16, help="with --collectors: group.partitions"
    )
    parser.add_argument(
        "--collector-set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a collector setting, e.g. ingest.batch_max=500 (default: the defaults)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="FILE",
        help="sample the collector with py-spy while it ingests; stacks to FILE",
    )
    return parser.parse_args()


def start_collector(
    work: Path, args: argparse.Namespace, mqtt_port: int, tsdb_url: str, api_port: int
) -> ManagedProcess:
    """The collector in its own process, one room per agent, with its defaults (SQLite)
    unless ``--collector-set`` says otherwise; returns once it subscribed."""
    rooms = [
        {"id": f"r{i}", "name": f"Room {i}", "agents": [agent_id(i)]} for i in range(args.agents)
    ]
    inventory = {"sites": [{"id": "s", "name": "Bench", "rooms": rooms}]}
    (work / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    config: dict[str, Any] = {
        "log_level": "WARNING",
        "mqtt": {"port": mqtt_port, "password": PASSWORD, "client_id": "bench-collector"},
        "tsdb": {"url": tsdb_url},
        "database": {"url": f"sqlite:///{work / 'collector.db'}"},
        "api": {"port": api_port},
        "inventory_file": str(work / "inventory.yaml"),
        "faults": {"agent_silence_s": 3600},
    }
    for setting in args.collector_set:
        key, _, value = setting.partition("=")
        section, _, name = key.partition(".")
        config.setdefault(section, {})[name] = yaml.safe_load(value)
    (work / "collector.yaml").write_text(yaml.safe_dump(config))
    argv = [sys.executable, "-m", "roomwatch.collector.cli", "collector"]
    collector = ManagedProcess(
        "collector", [*argv, "--config", str(work / "collector.yaml")], work / "collector.log"
    )
    collector.start()
    wait_for(lambda: _up(f"http://127.0.0.1:{api_port}/metrics", collector), 60, "collector")
    time.sleep(1.0)  # the collector's subscription is in place
    return collector


def _children_cpu_s() -> float:
    """CPU seconds of this process's children that have exited and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_s(process: psutil.Process) -> float:
    """User + system CPU seconds of a process so far (-1 once it is gone)."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return -1.0
    return float(times.user + times.system)


def _up(url: str, process: ManagedProcess) -> bool:
    process.check_alive()
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
