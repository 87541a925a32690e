"""Real processes for the outage tests: mosquitto, VictoriaMetrics, a collector process and
agent processes, each of which a test may stop, kill (SIGKILL) and start again.

Counts are read back the way an operator would: the TSDB through VictoriaMetrics' export
API, SQL from the collector's SQLite file (read-only), the agent's spool file, the
collector's ``/metrics`` and the processes' logs.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.procs import free_port
from roomwatch.collector.demo.tsdb import VictoriaMetrics

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_USER = "collector"
SITE = "campus"
MISSING_PROCESS = "roomwatch-outage-test-no-such-process"
_LIVE: weakref.WeakSet[Process] = weakref.WeakSet()


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1
) -> float:
    """Poll until ``predicate()``; return the seconds it took; TimeoutError naming ``what``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(every_s)
    return time.monotonic() - started


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


class Process:
    """A child process with a log file that can be stopped politely or killed."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.argv = argv
        self.log_path = log_path
        self.env = env or _env()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        assert not self.running
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        _LIVE.add(self)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, as on a crash or a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait for the exit status (SIGKILL after ``timeout_s``)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass(frozen=True)
class SpoolView:
    pending: int
    replayable: int
    dropped: int
    last_seq: int


class AgentProcess(Process):
    """``python -m roomwatch.agent --config F`` for one room; its state folder survives restarts."""

    def __init__(self, agent_id: str, workdir: Path, broker: MosquittoBroker, **overrides: Any):
        self.agent_id = agent_id
        self.workdir = workdir / agent_id
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.password = secrets.token_urlsafe(12)
        self.config_path = self.workdir / "agent.yaml"
        self.state_dir = self.workdir / "state"
        broker.add_user(agent_id, self.password)
        self.config: dict[str, Any] = {
            "agent_id": agent_id,
            "interval_s": 0.2,
            "state_dir": str(self.state_dir),
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "password": self.password,
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5,
            },
            "host": {
                "disks": ["/"],
                "processes": [{"name": "recorder", "match": MISSING_PROCESS}],
            },
            "spool": {"backlog_rate_per_s": 200, "replay_window_s": 10},
            "devices": [],
        }
        _merge(self.config, overrides)
        self.write_config()
        super().__init__(
            [sys.executable, "-m", "roomwatch.agent", "--config", str(self.config_path)],
            self.workdir / "agent.log",
        )

    def write_config(self, config: dict[str, Any] | None = None) -> None:
        self.config_path.write_text(yaml.safe_dump(config or self.config, sort_keys=False))
        self.config_path.chmod(0o600)

    def stopped_after_cycles(self) -> int:
        """The cycle count of the last clean stop, from the agent's own log line."""
        found = re.findall(r"stopped after (\d+) cycles; (\d+) messages kept", self.log_text())
        assert found, f"no clean stop in {self.log_path}:\n{self.log_text()[-2000:]}"
        return int(found[-1][0])

    def spool(self) -> SpoolView:
        """What the spool file holds right now (read-only; the agent may be running)."""
        with _read_only(self.state_dir / "spool.db") as db:
            pending, replayable = db.execute(
                "SELECT COUNT(*) FILTER (WHERE acked_s IS NULL),"
                " COUNT(*) FILTER (WHERE acked_s IS NOT NULL) FROM messages"
            ).fetchone()
            dropped = db.execute(
                "SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'dropped'"
            ).fetchone()[0]
            last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").fetchone()
        return SpoolView(pending, replayable, dropped, int(last[0]) if last else 0)

    def pending_payloads(self) -> list[bytes]:
        """The payloads of the messages not yet acknowledged by the broker."""
        with _read_only(self.state_dir / "spool.db") as db:
            rows = db.execute("SELECT payload FROM messages WHERE acked_s IS NULL").fetchall()
        return [bytes(payload) for (payload,) in rows]


class CollectorProcess(Process):
    """``python -m roomwatch.collector.cli collector --config F`` with its API on a free port."""

    def __init__(
        self, workdir: Path, broker: MosquittoBroker, victoria: VictoriaMetrics, **extra: Any
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        self.password = secrets.token_urlsafe(12)
        broker.add_user(COLLECTOR_USER, self.password, collector=True)
        self.api_port = free_port()
        self.db_path = workdir / "collector.db"
        self.config_path = workdir / "collector.yaml"
        self.inventory_path = workdir / "inventory.yaml"
        self.config: dict[str, Any] = {
            "log_level": "INFO",
            "mqtt": {
                "port": broker.port,
                "username": COLLECTOR_USER,
                "password": self.password,
                "client_id": "outage-collector",
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5,
            },
            "tsdb": {"url": victoria.url, "timeout_s": 2},
            "database": {"url": f"sqlite:///{self.db_path}"},
            "api": {"port": self.api_port},
            "inventory_file": str(self.inventory_path),
            "ingest": {"batch_wait_s": 0.05},
            "faults": {"agent_silence_s": 3600},
        }
        _merge(self.config, extra)
        super().__init__(
            [
                sys.executable,
                "-m",
                "roomwatch.collector.cli",
                "collector",
                "--config",
                str(self.config_path),
            ],
            workdir / "collector.log",
        )

    def write_inventory(self, agents: Iterable[str]) -> None:
        rooms = [{"id": f"room-{a}", "name": f"Room of {a}", "agents": [a]} for a in agents]
        inventory = {"sites": [{"id": SITE, "name": "Campus", "rooms": rooms}]}
        self.inventory_path.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def start(self, timeout_s: float = 120.0) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.config_path.chmod(0o600)
        super().start()
        wait_until(self._ready, timeout_s, f"collector API on port {self.api_port}")

    def _ready(self) -> bool:
        if not self.running:
            raise RuntimeError(f"collector exited:\n{self.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.api_port}{path}"

    def metric(self, name: str) -> float:
        """One sample of the running collector's ``/metrics`` (0 when absent)."""
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
        return 0.0

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with _read_only(self.db_path) as db:
            return db.execute(query, params).fetchall()

    def rollup_count(self, agent_id: str, metric: str = "cycles") -> int:
        """How many samples of the agent's own ``metric`` the hourly rollups have folded in."""
        [(count,)] = self.sql(
            "SELECT COALESCE(SUM(r.count), 0) FROM rollups_hourly r"
            " JOIN devices d ON d.id = r.device_id"
            " WHERE d.room_id = ? AND d.device = 'agent' AND r.metric = ?",
            f"room-{agent_id}",
            metric,
        )
        return int(count)

    def ingested(self, agent_id: str) -> int:
        [(count,)] = self.sql("SELECT COUNT(*) FROM ingested_messages WHERE agent_id = ?", agent_id)
        return int(count)

    def faults(self, agent_id: str, rule_id: str) -> list[tuple[Any, ...]]:
        return self.sql(
            "SELECT id, status FROM faults WHERE room_id = ? AND rule_id = ?",
            f"room-{agent_id}",
            rule_id,
        )

    def fault_events(self, fault_id: int, kind: str) -> int:
        [(count,)] = self.sql(
            "SELECT COUNT(*) FROM fault_events WHERE fault_id = ? AND type = ?", fault_id, kind
        )
        return int(count)


def stored_cycles(tsdb: VictoriaMetrics, agent_id: str) -> list[tuple[int, float]]:
    """(timestamp ms, cycles) of every stored sample of the agent's own counters, by time."""
    series = tsdb.export(f'agent_cycles{{agent="{agent_id}"}}')
    points = [(t, v) for s in series for t, v in zip(s["timestamps"], s["values"], strict=True)]
    return sorted(points)


def runs_from_one(values: list[float]) -> list[int]:
    """Split a sequence of cycle counters into restarts; each run must be 1, 2, 3, ..."""
    runs: list[int] = []
    for value in values:
        if value == 1:
            runs.append(1)
        else:
            assert runs and value == runs[-1] + 1, f"gap or repeat at {value} after {runs[-1:]}"
            runs[-1] += 1
    return runs


def stop_all(processes: Iterable[Process]) -> None:
    for process in processes:
        if process.running:
            process.stop()


def interrupt(process: Process) -> None:
    process.signal(signal.SIGINT)


class _read_only:
    """A read-only SQLite connection (the writer may be running; WAL allows it)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG


@atexit.register
def _kill_all() -> None:
    for process in list(_LIVE):
        process.kill()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
