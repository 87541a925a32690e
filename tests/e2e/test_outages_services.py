"""Running as a service: systemd's notify protocol (READY, WATCHDOG, STOPPING) from the real
agent and collector processes, the agent's optional local /metrics, and the shipped unit
files and Windows wrapper."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from roomwatch.agent.config import load_config
from roomwatch.agent.runner import STALL_GRACE_S
from roomwatch.agent.sdnotify import Notifier
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.procs import free_port
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from tests.e2e.outage_stack import REPO, AgentProcess, CollectorProcess, wait_until

pytestmark = pytest.mark.e2e
UNITS = REPO / "deploy" / "systemd"
WATCHDOG_USEC = 400_000


class NotifySocket:
    """A stand-in for systemd's notification socket (abstract namespace, so no path limit)."""

    def __init__(self) -> None:
        self.name = f"@roomwatch-test-{secrets.token_hex(6)}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.name[1:])
        self._sock.settimeout(0.2)
        self.received: list[str] = []

    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}

    def wait_for(self, state: str, count: int = 1, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while sum(state in message.split("\n") for message in self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} x {state}; got {self.received[-5:]}")
            try:
                self.received.append(self._sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def assert_service_protocol(received: list[str]) -> None:
    states = [line for message in received for line in message.split("\n")]
    first_ready = states.index("READY=1")
    assert "WATCHDOG=1" not in states[:first_ready]  # ready first, then the pings
    assert states[-1] == "STOPPING=1"


def test_the_agent_reports_ready_pets_the_watchdog_and_says_when_it_stops(
    broker: MosquittoBroker, tmp_path: Path, notify_socket: NotifySocket
):
    agent = AgentProcess("room-501", tmp_path, broker, interval_s=0.5)
    agent.env = {**agent.env, **notify_socket.env()}
    agent.start()
    try:
        notify_socket.wait_for("READY=1")
        notify_socket.wait_for("WATCHDOG=1", count=3)
    finally:
        assert agent.stop() == 0
    notify_socket.wait_for("STOPPING=1")
    assert_service_protocol(notify_socket.received)


def test_the_collector_reports_ready_once_serving_and_pets_the_watchdog(
    broker: MosquittoBroker,
    victoria: VictoriaMetrics,
    tmp_path: Path,
    notify_socket: NotifySocket,
):
    collector = CollectorProcess(tmp_path / "collector", broker, victoria)
    collector.write_inventory([])
    collector.env = {**collector.env, **notify_socket.env()}
    collector.start()
    try:
        notify_socket.wait_for("READY=1")
        notify_socket.wait_for("WATCHDOG=1", count=3)
    finally:
        assert collector.stop() == 0
    notify_socket.wait_for("STOPPING=1")
    assert_service_protocol(notify_socket.received)


def test_notifying_without_systemd_is_a_quiet_no_op():
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_interval_s is None
    assert notifier.ready() is False
    other = Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval_s is None  # meant for another process


def test_the_agent_serves_its_own_counters_on_a_local_metrics_endpoint(
    broker: MosquittoBroker, tmp_path: Path
):
    port = free_port()
    agent = AgentProcess(
        "room-502", tmp_path, broker, interval_s=0.3, health_http={"enabled": True, "port": port}
    )
    agent.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _scrape(url).get("roomwatch_agent_cycles_total", 0) >= 2, 60, "cycles")
        wait_until(lambda: _scrape(url).get("roomwatch_agent_connected") == 1, 30, "connected")
        metrics = _scrape(url)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/config", timeout=5)
    finally:
        agent.stop()
    assert missing.value.code == 404
    assert metrics["roomwatch_agent_spool_depth"] >= 0
    assert metrics["roomwatch_agent_published_total"] >= 1
    assert metrics["roomwatch_agent_info"] == 1
    assert "agent metrics on http://127.0.0.1:" in agent.log_text()


def test_the_agent_metrics_endpoint_is_off_by_default():
    example = load_config(REPO / "examples" / "agent.yaml")
    assert example.health_http.enabled is False and example.health_http.host == "127.0.0.1"


def _scrape(url: str) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {
        sample.name: float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _unit(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("unit", ["roomwatch-agent.service", "roomwatch-collector.service"])
def test_the_systemd_units_are_notify_services_with_a_watchdog_and_hardening(unit: str):
    settings = _unit(unit)
    assert settings["Type"] == ["notify"] and settings["Restart"] == ["always"]
    assert settings["NoNewPrivileges"] == ["yes"] and settings["ProtectSystem"] == ["strict"]
    assert settings["CapabilityBoundingSet"] == [""] and settings["User"] == ["roomwatch"]
    assert int(settings["WatchdogSec"][0]) > 0 and settings["StateDirectory"]


def test_the_agent_watchdog_outlasts_a_slow_cycle_of_the_example_config():
    interval_s = load_config(REPO / "examples" / "agent.yaml").interval_s
    watchdog_s = int(_unit("roomwatch-agent.service")["WatchdogSec"][0])
    assert watchdog_s >= 2 * interval_s + STALL_GRACE_S
    assert _unit("roomwatch-agent.service")["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    state_dir = load_config(REPO / "examples" / "agent.yaml").state_dir
    assert state_dir == Path("/var/lib") / _unit("roomwatch-agent.service")["StateDirectory"][0]


@pytest.mark.parametrize("unit", ["roomwatch-agent.service", "roomwatch-collector.service"])
def test_systemd_rates_the_units_exposure_at_most_2(unit: str):
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd (./run setup does)")
    result = subprocess.run(
        [binary, "security", "--offline=yes", str(UNITS / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0


def test_the_windows_service_wrapper_runs_the_agent_with_its_config_and_rolls_logs():
    root = ElementTree.parse(REPO / "deploy" / "windows" / "roomwatch-agent.xml").getroot()
    assert root.findtext("id") == "roomwatch-agent"
    assert root.findtext("executable", "").endswith("roomwatch-agent.exe")
    assert "--config" in root.findtext("arguments", "")
    assert root.find("log") is not None and root.find("log").get("mode") == "roll-by-size"  # type: ignore[union-attr]
    assert [e.get("action") for e in root.findall("onfailure")] == ["restart"] * 3
    entry = (REPO / "deploy" / "windows" / "roomwatch_agent_entry.py").read_text()
    assert "from roomwatch.agent.__main__ import main" in entry
