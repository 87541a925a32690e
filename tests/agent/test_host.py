"""The host probe on the real machine: sane values, the watched process, its events."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psutil
import pytest

from roomwatch.agent.config import HostConfig, ProcessWatch
from roomwatch.agent.host import HostProbe, ProbeReading, default_probes
from roomwatch.agent.host.disks import DiskUsageProbe
from roomwatch.agent.wire import DeviceSample, TableRow

WAIT_S = 10.0


def rows(sample: DeviceSample, table: str) -> dict[str, TableRow]:
    return {next(iter(r.labels.values())): r for r in sample.tables.get(table, [])}


def test_the_host_sample_has_sane_values() -> None:
    me = psutil.Process().name()
    probe = HostProbe(HostConfig(processes=[ProcessWatch(name="tests", match=me)]))

    probe.collect()
    sample = probe.collect()  # the second cycle has rates and process cpu

    assert (sample.device, sample.kind, sample.reachable) == ("host", "host", True)
    metrics = sample.metrics
    assert 0.0 <= metrics["cpu_pct"] <= 100.0
    assert 0.0 <= metrics["mem_used_pct"] <= 100.0
    assert 0.0 <= metrics["swap_used_pct"] <= 100.0
    assert metrics["mem_available_bytes"] > 0
    assert metrics["uptime_s"] > 0
    assert min(metrics["load1"], metrics["load5"], metrics["load15"]) >= 0.0
    assert "temperature_c" not in metrics or -50 < metrics["temperature_c"] < 150
    root = rows(sample, "disk")["/"].metrics
    assert 0.0 <= root["used_pct"] <= 100.0
    assert 0 < root["free_bytes"] <= root["total_bytes"]
    watched = rows(sample, "process")["tests"].metrics
    assert watched["running"] == 1.0 and watched["count"] >= 1
    assert watched["rss_bytes"] > 0
    assert 0.0 <= watched["cpu_pct"] <= 100.0
    for nic in sample.tables.get("nic", []):
        assert min(nic.metrics.values()) >= 0.0


def test_the_first_cycle_has_no_rates() -> None:
    sample = HostProbe(HostConfig()).collect()

    assert "nic" not in sample.tables and "diskio" not in sample.tables


@pytest.fixture
def marker() -> str:
    return f"roomwatch-test-recorder-{uuid.uuid4().hex}"


@pytest.fixture
def recorder(marker: str) -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in for the room's recording software: a process with a unique command line."""
    code = "import sys, time; time.sleep(120)"
    process = subprocess.Popen([sys.executable, "-c", code, marker])
    yield process
    process.kill()
    process.wait()


def collect_until(probe: HostProbe, running: float) -> DeviceSample:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        sample = probe.collect()
        if rows(sample, "process")["recorder"].metrics["running"] == running:
            return sample
        time.sleep(0.02)
    raise TimeoutError(f"the recorder never had running={running}")


def test_a_watched_process_starting_and_stopping_is_reported(marker: str) -> None:
    watch = ProcessWatch(name="recorder", match=marker)
    probe = HostProbe(HostConfig(processes=[watch]))
    assert rows(probe.collect(), "process")["recorder"].metrics["running"] == 0.0

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker])
    try:
        started = collect_until(probe, running=1.0)
        assert rows(started, "process")["recorder"].metrics["count"] == 1.0
        assert [(e.type, e.attrs["process"]) for e in probe.take_events()] == [
            ("process_start", "recorder")
        ]
    finally:
        process.kill()
        process.wait()

    stopped = collect_until(probe, running=0.0)
    assert rows(stopped, "process")["recorder"].metrics["rss_bytes"] == 0.0
    events = probe.take_events()
    assert [(e.type, e.device) for e in events] == [("process_stop", "host")]
    assert events[0].attrs["required"] == 1.0
    assert probe.take_events() == []


def test_the_first_cycle_only_sets_the_baseline(
    recorder: subprocess.Popen[bytes], marker: str
) -> None:
    probe = HostProbe(HostConfig(processes=[ProcessWatch(name="recorder", match=marker)]))

    collect_until(probe, running=1.0)

    assert probe.take_events() == []


class BrokenSensors:
    """A probe that fails the way a sensor driver can, until it is repaired."""

    name = "sensors"

    def __init__(self) -> None:
        self.broken = True

    def collect(self) -> ProbeReading:
        if self.broken:
            raise OSError("sensor bus error")
        return ProbeReading(metrics={"temperature_c": 41.0})


def test_a_failing_probe_drops_only_its_metrics_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = HostConfig()
    broken = BrokenSensors()
    others = [p for p in default_probes(config) if p.name != broken.name]
    probe = HostProbe(config, probes=[*others, broken])

    with caplog.at_level(logging.INFO, logger="roomwatch.agent.host"):
        samples = [probe.collect() for _ in range(3)]
        broken.broken = False
        repaired = probe.collect()
        probe.collect()

    assert all("cpu_pct" in s.metrics and "temperature_c" not in s.metrics for s in samples)
    assert repaired.metrics["temperature_c"] == 41.0
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "sensors failing" in m and "sensor bus error" in m]) == 1
    assert len([m for m in messages if "sensors recovered" in m]) == 1


def test_a_configured_mount_that_is_missing_has_no_row_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe = DiskUsageProbe(["/", "/no/such/recording/disk"])

    with caplog.at_level(logging.WARNING, logger="roomwatch.agent.host"):
        readings = [probe.collect() for _ in range(3)]

    assert [[r.labels["mount"] for r in reading.tables["disk"]] for reading in readings] == [
        ["/"]
    ] * 3
    assert len([r for r in caplog.records if "/no/such/recording/disk" in r.getMessage()]) == 1
