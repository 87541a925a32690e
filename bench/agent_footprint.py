"""RSS and CPU of the room agent polling simulated devices, next to zabbix-agent2 and the
Prometheus node exporter on the same host over the same period.

    .venv/bin/python bench/agent_footprint.py [--duration 180] [--devices 20] [--interval 10]

Peers (Debian packages, besides the project's mosquitto and snmpd):
    apt-get install -y --no-install-recommends zabbix-agent2 prometheus-node-exporter

Starts a real mosquitto, ``--devices`` simulated devices (one net-snmp snmpd each: UPS,
switch, two cameras and an encoder per room, repeated), a recorder stand-in the agent
watches, and ``python -m roomwatch.agent --config F`` polling every ``--interval`` seconds with its
host probe on, as in a room. Beside it, on free loopback ports:

- zabbix-agent2 with a minimal config (passive checks only, no Zabbix server): the bench
  plays the server and asks it for 10 host items every interval (CPU, load, memory, disk,
  network, uptime, the recorder process), one TCP connection per item as a server would;
- prometheus-node-exporter with its default collectors, scraped by the bench every interval.

After the agent's first message (its start-up and first identification excluded), CPU time
and RSS of the three are sampled once a second for ``--duration`` seconds. Prints each one's
peak and final RSS, USS, CPU as a percentage of one core, the ratios, then where the agent's
memory goes (``bench/agent_memory.py``: RSS stage by stage, the Python heap by package).
Exit status 3 when a peer is missing (it is named, the rest still runs).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EXIT_PEER_MISSING,
    MIB,
    debian_version,
    find_peer,
    machine_line,
    ratio_text,
    report_py_spy,
    sample_tree,
    start_py_spy,
    uss_bytes,
)
from roomwatch.agent import wire  # noqa: E402
from roomwatch.collector.demo.broker import MosquittoBroker  # noqa: E402
from roomwatch.collector.demo.procs import ManagedProcess, free_port, tcp_open, wait_for  # noqa: E402
from roomwatch.collector.demo.simdevice import SimulatedDevice  # noqa: E402
from roomwatch.collector.demo.simkit import room_device_spec  # noqa: E402

AGENT_ID = "bench-footprint"
PASSWORD = "bench-footprint-password"
RECORDER_MARK = "roomwatch-bench-recorder"
KIT = ["ups", "switch", "camera", "camera-hikvision", "encoder"]
# What a Zabbix server would ask a Linux host's agent for, close to the agent's host probe.
ZABBIX_ITEMS = [
    "agent.ping",
    "system.cpu.util",
    "system.cpu.load[all,avg1]",
    "vm.memory.size[available]",
    "vm.memory.size[total]",
    "vfs.fs.size[/,pused]",
    "net.if.in[lo]",
    "net.if.out[lo]",
    "system.uptime",
    f"proc.num[,,,{RECORDER_MARK}]",
]


@dataclass
class Watched:
    """One measured process: its samples over the window."""

    name: str
    process: ManagedProcess
    rss: list[int] = field(default_factory=list)
    cpu_start_s: float = 0.0
    cpu_end_s: float = 0.0
    uss_end: int | None = None

    @property
    def pid(self) -> int:
        assert self.process.proc is not None, f"{self.name} is not running"
        return self.process.proc.pid

    def sample(self) -> float:
        self.process.check_alive()
        got = sample_tree(self.pid)
        if got is None:
            raise RuntimeError(f"{self.name} vanished")
        self.rss.append(got.rss_bytes)
        return got.cpu_s


class MetricsWatch:
    """Counts the agent's metrics messages on the broker (proof that it keeps working)."""

    def __init__(self, port: int, password: str) -> None:
        self.messages = 0
        self.reachable = 0
        self.devices = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-footprint-watch", protocol=mqtt.MQTTv5
        )
        self._client.username_pw_set("bench-watch", password)
        self._client.on_message = self._on_message
        self._client.on_connect = lambda c, *_: c.subscribe(
            wire.topic(AGENT_ID, wire.Kind.METRICS), qos=1
        )
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        decoded = wire.decode(message.topic, message.payload)
        if isinstance(decoded, wire.MetricsMessage):
            snmp = [d for d in decoded.devices if d.device not in ("host", "agent")]
            self.devices = len(snmp)
            self.reachable = sum(1 for d in snmp if d.reachable)
            self.messages += 1

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def zabbix_get(port: int, key: str) -> str:
    """One passive check, as a Zabbix server asks it (ZBXD header, one connection)."""
    data = key.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"ZBXD\x01" + struct.pack("<II", len(data), 0) + data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    if not reply.startswith(b"ZBXD"):
        raise RuntimeError(f"zabbix-agent2 answered {reply[:40]!r} to {key}")
    return reply[13:].decode(errors="replace")


def scrape(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return len(response.read())


def start_devices(count: int, workdir: Path) -> list[SimulatedDevice]:
    devices = []
    for i in range(count):
        spec = room_device_spec(KIT[i % len(KIT)], name=f"dev-{i:02d}")
        devices.append(SimulatedDevice(spec, workdir=workdir / spec.name).start())
    return devices


def agent_config(
    devices: list[SimulatedDevice], broker_port: int, interval_s: float, work: Path
) -> dict[str, Any]:
    return {
        "agent_id": AGENT_ID,
        "interval_s": interval_s,
        "state_dir": str(work / "agent-state"),
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "password": PASSWORD},
        "host": {"disks": ["/"], "processes": [{"name": "recorder", "match": RECORDER_MARK}]},
        "devices": [
            {"id": d.spec.name, "kind": d.spec.kind, "address": d.address[0], "port": d.port}
            for d in devices
        ],
    }


def _listening(item: Watched, port: int) -> bool:
    item.process.check_alive()
    return tcp_open(port)


def zabbix_free_port() -> int:
    """A free TCP port zabbix-agent2 accepts (its ListenPort must be 1024..32767)."""
    for _ in range(200):
        port = random.randint(20000, 32767)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000..32767 for zabbix-agent2")


def zabbix_config(work: Path, port: int) -> Path:
    path = work / "zabbix_agent2.conf"
    path.write_text(
        "\n".join(
            [
                "LogType=file",
                f"LogFile={work / 'zabbix_agent2.log'}",
                f"PidFile={work / 'zabbix_agent2.pid'}",
                f"ControlSocket={work / 'zabbix_agent2.sock'}",
                "Server=127.0.0.1",
                "ListenIP=127.0.0.1",
                f"ListenPort={port}",
                "Hostname=roomwatch-bench",
                "Timeout=5",
            ]
        )
        + "\n"
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="measured seconds")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--interval", type=float, default=10.0, help="poll/scrape interval, s")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip the agent's memory breakdown"
    )
    parser.add_argument(
        "--agent-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment of the agent process, e.g. MALLOC_ARENA_MAX=2 (repeatable)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="FILE",
        help="also sample the agent with py-spy (pip install py-spy) during the window, write "
        "its collapsed stacks to FILE and print the hottest functions",
    )
    args = parser.parse_args()
    print(machine_line())
    zabbix_bin = find_peer("zabbix_agent2", "zabbix-agent2")
    node_bin = find_peer("prometheus-node-exporter", "prometheus-node-exporter")
    missing = zabbix_bin is None or node_bin is None
    work = Path(tempfile.mkdtemp(prefix="roomwatch-bench-footprint-"))
    broker = MosquittoBroker(work / "broker")
    broker.add_user(AGENT_ID, PASSWORD)
    broker.add_user("bench-watch", PASSWORD, collector=True)
    devices: list[SimulatedDevice] = []
    processes: list[ManagedProcess] = []
    watch: MetricsWatch | None = None
    try:
        broker.start()
        devices = start_devices(args.devices, work / "devices")
        recorder = ManagedProcess(
            "recorder",
            [sys.executable, "-c", "import time; time.sleep(86400)", RECORDER_MARK],
            work / "recorder.log",
        )
        recorder.start()
        processes.append(recorder)
        config_path = work / "agent.yaml"
        config = agent_config(devices, broker.port, args.interval, work)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        config_path.chmod(0o600)
        watch = MetricsWatch(broker.port, PASSWORD)

        extra_env = dict(item.split("=", 1) for item in args.agent_env)
        agent = ManagedProcess(
            "roomwatch agent",
            [sys.executable, "-m", "roomwatch.agent", "--config", str(config_path)],
            work / "agent.log",
            env={**os.environ, **extra_env} if extra_env else None,
        )
        if extra_env:
            print(f"agent environment: {' '.join(args.agent_env)}")
        watched = [Watched("roomwatch agent", agent)]
        zabbix_port = node_port = 0
        if zabbix_bin is not None:
            zabbix_port = zabbix_free_port()
            conf = zabbix_config(work, zabbix_port)
            watched.append(
                Watched(
                    f"zabbix-agent2 {debian_version('zabbix-agent2')}",
                    ManagedProcess(
                        "zabbix-agent2", [zabbix_bin, "-c", str(conf), "-f"], work / "zabbix.out"
                    ),
                )
            )
        if node_bin is not None:
            node_port = free_port()
            watched.append(
                Watched(
                    f"node-exporter {debian_version('prometheus-node-exporter')}",
                    ManagedProcess(
                        "node-exporter",
                        [node_bin, f"--web.listen-address=127.0.0.1:{node_port}"],
                        work / "node-exporter.log",
                    ),
                )
            )
        for item in watched:
            item.process.start()
            processes.append(item.process)
        for item, port in zip(watched[1:], [p for p in (zabbix_port, node_port) if p], strict=True):
            wait_for(partial(_listening, item, port), 20, f"{item.name} on port {port}")
        wait_for(lambda: watch is not None and watch.messages >= 1, 60, "the agent's first message")
        agent_first_poll_rss = sample_tree(watched[0].pid)

        node_url = f"http://127.0.0.1:{node_port}/metrics"
        checks = scrapes = 0
        scrape_bytes = 0

        def peers_work() -> None:
            nonlocal checks, scrapes, scrape_bytes
            if zabbix_port:
                for key in ZABBIX_ITEMS:
                    zabbix_get(zabbix_port, key)
                    checks += 1
            if node_port:
                scrape_bytes = scrape(node_url)
                scrapes += 1

        peers_work()  # the peers' first collection, like the agent's, is start-up
        spy = start_py_spy(args.py_spy, watched[0].pid, args.duration)
        started = time.monotonic()
        for item in watched:
            item.cpu_start_s = item.sample()
        next_work = started + args.interval
        end = started + args.duration
        while (now := time.monotonic()) < end:
            if now >= next_work:
                peers_work()
                next_work += args.interval
            for item in watched:
                item.sample()
            time.sleep(max(0.0, min(1.0, end - time.monotonic(), next_work - time.monotonic())))
        elapsed = time.monotonic() - started
        for item in watched:
            item.cpu_end_s = item.sample()
            item.uss_end = uss_bytes(item.pid)

        print(
            f"window: {elapsed:.0f} s after the agent's first message; interval {args.interval:g} s"
        )
        print(
            f"roomwatch agent: {args.devices} SNMP devices + host probe; {watch.messages} "
            f"metrics messages, {watch.reachable}/{watch.devices} devices reachable in the last"
        )
        if zabbix_port:
            print(f"zabbix-agent2: passive checks only (no server), {checks} answered")
        if node_port:
            print(f"node exporter: {scrapes} scrapes of {scrape_bytes / 1024:.0f} KiB")
        if agent_first_poll_rss is not None:
            first_mib = agent_first_poll_rss.rss_bytes / MIB
            print(f"agent RSS right after its first poll: {first_mib:.1f} MiB")
        print(f"{'process':<34} {'RSS peak':>9} {'RSS end':>9} {'USS end':>9} {'CPU % 1 core':>13}")
        cpu_pct: dict[str, float] = {}
        rss_peak: dict[str, float] = {}
        for item in watched:
            cpu_pct[item.name] = (item.cpu_end_s - item.cpu_start_s) / elapsed * 100
            rss_peak[item.name] = max(item.rss) / MIB
            uss = f"{item.uss_end / MIB:8.1f}M" if item.uss_end else "      n/a"
            print(
                f"{item.name:<34} {rss_peak[item.name]:8.1f}M {item.rss[-1] / MIB:8.1f}M "
                f"{uss} {cpu_pct[item.name]:12.2f}%"
            )
        ours = watched[0].name
        zabbix = next((w.name for w in watched if w.name.startswith("zabbix")), None)
        node = next((w.name for w in watched if w.name.startswith("node")), None)
        for peer, label in ((zabbix, "zabbix-agent2"), (node, "node-exporter")):
            rss_ratio = ratio_text(rss_peak[ours], rss_peak.get(peer) if peer else None)
            cpu_ratio = ratio_text(cpu_pct[ours], cpu_pct.get(peer) if peer else None)
            print(f"ratio agent / {label}: RSS {rss_ratio}, CPU {cpu_ratio}")
        rss_goal = rss_peak.get(zabbix, 0.0) * 2 if zabbix else None
        print(
            "goal RSS <= 2x zabbix-agent2: "
            + (
                "n/a (peer missing)"
                if rss_goal is None
                else f"{'met' if rss_peak[ours] <= rss_goal else 'MISSED'} "
                f"({rss_peak[ours]:.1f} MiB vs {rss_goal:.1f} MiB)"
            )
        )
        print(
            f"goal CPU <= 1 % of one core: {'met' if cpu_pct[ours] <= 1.0 else 'MISSED'} "
            f"({cpu_pct[ours]:.2f} %)"
        )
        if spy is not None and args.py_spy is not None:
            report_py_spy(spy, args.py_spy)
        agent.stop()
        for item in watched[1:]:
            item.process.stop()
        if not args.no_breakdown:
            breakdown(config_path, work)
        return EXIT_PEER_MISSING if missing else 0
    finally:
        if watch is not None:
            watch.close()
        for process in processes:
            process.stop()
        for device in devices:
            device.stop()
        broker.close()
        shutil.rmtree(work, ignore_errors=True)


def breakdown(config_path: Path, work: Path) -> None:
    """The agent's memory, stage by stage and by package, in fresh interpreters."""
    script = str(ROOT / "bench" / "agent_memory.py")
    # Tracing every allocation makes imports ~10x slower: one cycle is enough there.
    for extra in (["--cycles", "5"], ["--cycles", "1", "--tracemalloc"]):
        state = work / f"memory-state{len(extra)}"
        argv = [sys.executable, script, str(config_path), "--state-dir", str(state), *extra]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            print(f"(memory breakdown {' '.join(extra)} gave no answer within 300 s)")
            continue
        print(done.stdout.rstrip())
        if done.returncode != 0:
            print(f"(memory breakdown failed: {done.stderr.strip()[-500:]})")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    sys.exit(main())
