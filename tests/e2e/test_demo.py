"""The README's first command: ``roomwatch demo`` starts a broker, a TSDB, the collector and
simulated classrooms on free ports, even when the usual ports are taken, and its incidents
open and resolve faults at their levels."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

USUAL_PORTS = (1883, 8086, 8428, 8000)


@pytest.fixture
def usual_ports_taken() -> Iterator[None]:
    """Hold the usual ports (mosquitto, InfluxDB, VictoriaMetrics, uvicorn) where they are
    free; where something already listens on one, it is taken anyway."""
    with ExitStack() as held:
        for port in USUAL_PORTS:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
            except OSError:
                pass  # already in use: just as taken
        yield


def without_value(fault: tuple[str, str]) -> tuple[str, str]:
    level, title = fault
    return level, re.sub(r" \([^()]*\)$", "", title)


def test_the_demo_runs_on_free_ports_and_its_incidents_open_and_resolve_faults(
    usual_ports_taken: None, tmp_path: Path
):
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "demo", "--duration", "45", "--rooms", "1",
         "--interval", "1", "--workdir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", done.stdout)}
    assert len(ports) >= 3 and not ports & set(USUAL_PORTS), output
    assert "summary: 1/1 rooms reporting" in done.stdout, output
    opened = re.findall(r"fault OPENED\s+(L\d) (.+)", done.stdout)
    resolved = re.findall(r"fault RESOLVED\s+(L\d) (.+)", done.stdout)
    assert ("L1", "cam-2 unreachable in room-101") in opened, output
    assert ("L1", "cam-2 unreachable in room-101") in resolved, output
    assert len(opened) >= 3, output
    # Every incident was repaired. A title ends in the latest value ("(96 %)" when opened,
    # "(76 %)" when resolved): the fault is the same.
    assert sorted(map(without_value, opened)) == sorted(map(without_value, resolved)), output
    assert "Traceback" not in output
