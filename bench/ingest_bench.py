"""Collector ingest throughput next to the raw write ceiling of the same TSDB.

    .venv/bin/python bench/ingest_bench.py [--agents 200] [--messages 20000] [--metrics 30]

Starts a real mosquitto, two VictoriaMetrics (one behind the collector, one for the raw
ceiling) and the collector as its own process, all on free loopback ports. Publisher
processes send ``--messages`` metrics messages of ``--metrics`` values each, QoS 1, from
``--agents`` agents; the clock runs from the first publish until the collector has stored the
last message (its ``roomwatch_collector_messages_total``). Every value is then counted in
the TSDB. The peer: the same values written straight to VictoriaMetrics with influxdb-client
in batches of 5,000 lines. Prints messages/s, values/s and the ratio to the raw ceiling.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent import wire  # noqa: E402
from collector.demo.broker import MosquittoBroker  # noqa: E402
from collector.demo.procs import ManagedProcess, free_port, wait_for  # noqa: E402
from collector.demo.tsdb import VictoriaMetrics  # noqa: E402

PASSWORD = "bench-password"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


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


def publisher(port: int, agents: range, per_agent: int, metrics: int, go: mp.Event) -> None:
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
    for _, client in clients:
        client.disconnect()
        client.loop_stop()


def scrape(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def count_values(tsdb: VictoriaMetrics, selector: str) -> int:
    return sum(len(s["values"]) for s in tsdb.export(selector))


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
        write.write("roomwatch", "roomwatch", lines[start : start + 5000], WritePrecision.MS)
    elapsed = time.perf_counter() - started
    client.close()
    return len(lines) * metrics / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--metrics", type=int, default=30)
    parser.add_argument("--publishers", type=int, default=2)
    args = parser.parse_args()
    per_agent = max(1, args.messages // args.agents)
    total = per_agent * args.agents
    work = Path(tempfile.mkdtemp(prefix="roomwatch-bench-ingest-"))

    broker = MosquittoBroker(work / "broker")
    broker.add_user("collector", PASSWORD, collector=True)
    for i in range(args.agents):
        broker.add_user(agent_id(i), PASSWORD)
    tsdb, raw_tsdb = VictoriaMetrics(work / "tsdb"), VictoriaMetrics(work / "raw")
    collector: ManagedProcess | None = None
    try:
        broker.start()
        tsdb.start()
        raw_tsdb.start()
        api_port = free_port()
        rooms = [
            {"id": f"r{i}", "name": f"Room {i}", "agents": [agent_id(i)]}
            for i in range(args.agents)
        ]
        inventory = {"sites": [{"id": "s", "name": "Bench", "rooms": rooms}]}
        (work / "inventory.yaml").write_text(yaml.safe_dump(inventory))
        config = {
            "log_level": "WARNING",
            "mqtt": {"port": broker.port, "password": PASSWORD, "client_id": "bench-collector"},
            "tsdb": {"url": tsdb.url},
            "database": {"url": f"sqlite:///{work / 'collector.db'}"},
            "api": {"port": api_port},
            "inventory_file": str(work / "inventory.yaml"),
            "faults": {"agent_silence_s": 3600},
        }
        (work / "collector.yaml").write_text(yaml.safe_dump(config))
        collector = ManagedProcess(
            "collector",
            [
                sys.executable,
                "-m",
                "collector.cli",
                "collector",
                "--config",
                str(work / "collector.yaml"),
            ],
            work / "collector.log",
        )
        collector.start()
        metrics_url = f"http://127.0.0.1:{api_port}/metrics"
        wait_for(lambda: _up(metrics_url, collector), 60, "collector")
        time.sleep(1.0)  # the collector's subscription is in place

        go = mp.Event()
        shares = [range(k, args.agents, args.publishers) for k in range(args.publishers)]
        procs = [
            mp.Process(target=publisher, args=(broker.port, share, per_agent, args.metrics, go))
            for share in shares
        ]
        for proc in procs:
            proc.start()
        time.sleep(2.0)  # connections up
        started = time.perf_counter()
        go.set()
        name = 'roomwatch_collector_messages_total{kind="metrics"}'
        wait_for(lambda: scrape(metrics_url, name) >= total, 600, f"{total} messages stored", 0.05)
        elapsed = time.perf_counter() - started
        for proc in procs:
            proc.join(60)

        values_per_msg = args.metrics  # 28 metrics + reachable + rtt_ms
        stored = count_values(tsdb, '{__name__=~"encoder_.*"}')
        ceiling = raw_ceiling(raw_tsdb, args.agents, per_agent, args.metrics)
        msg_rate = total / elapsed
        value_rate = msg_rate * values_per_msg
        print(f"messages: {total} of {args.metrics} values from {args.agents} agents")
        print(
            f"collector: {msg_rate:,.0f} messages/s, {value_rate:,.0f} values/s ({elapsed:.1f} s)"
        )
        print(f"stored in TSDB: {stored} of {total * values_per_msg} values")
        print(
            f"raw TSDB write ceiling (influxdb-client, 5000 lines/batch): {ceiling:,.0f} values/s"
        )
        print(f"ratio collector / raw ceiling: {value_rate / ceiling:.2f}")
        return 0 if stored == total * values_per_msg else 1
    finally:
        if collector is not None:
            collector.stop()
        tsdb.stop()
        raw_tsdb.stop()
        broker.close()


def _up(url: str, process: ManagedProcess) -> bool:
    process.check_alive()
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
