"""Every bench in ``bench/`` runs end to end with tiny parameters and prints its ratio line.

Nothing here asserts a speed: the numbers are printed by the benches themselves, as ratios to
peers measured in the same run (docs/performance.md). A missing peer (zabbix-agent2,
prometheus-node-exporter, prometheus-snmp-exporter, wrk: the ``run`` script installs them)
makes a bench exit with status 3, which fails its test here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMOKE_RUNS = {
    "agent_footprint": ["--duration", "4", "--devices", "2", "--interval", "1", "--no-breakdown"],
    "snmp_throughput": ["--seconds", "1", "--ports", "4", "--concurrency", "2"],
    "detection_latency": [
        "--interval", "1", "--rooms", "1", "--devices", "2", "--trials-per-device", "1",
        "--timeout", "0.5", "--retries", "0",
    ],
    "api_latency": ["--rooms", "12", "--devices-per-room", "3", "--duration", "1"],
    "ingest_bench": ["--agents", "3", "--messages", "30", "--metrics", "5"],
    "report_bench": ["--rooms", "3", "--devices", "2", "--days", "14"],
}  # fmt: skip


@pytest.mark.parametrize("bench", sorted(SMOKE_RUNS))
def test_bench_runs_and_prints_its_ratio(bench: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{bench}.py"), *SMOKE_RUNS[bench]],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.startswith("machine: "), output
    assert any(line.startswith("ratio ") for line in done.stdout.splitlines()), output


def test_agent_memory_breakdown_runs_without_a_broker(tmp_path: Path) -> None:
    """The memory breakdown builds the agent and prints its stages even when nothing answers."""
    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent_id: smoke\n"
        f"state_dir: {tmp_path / 'unused'}\n"
        "mqtt: {port: 9}\n"
        "host: {disks: ['/']}\n"
        "devices: [{id: cam-1, kind: camera, address: 127.0.0.1, port: 9, timeout_s: 0.2}]\n"
        "snmp: {retries: 0}\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "agent_memory.py"), str(config),
         "--state-dir", str(tmp_path / "state"), "--cycles", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first poll cycle" in done.stdout and "more poll cycles" in done.stdout
