"""The README's first command: ``roomwatch demo`` starts a broker, a TSDB, the collector and
simulated classrooms on free ports, even when the usual ports are taken, and its incidents
open and resolve one fault each at their levels: the flapping camera is one fault marked
flapping, and the room is green again at the end. Its printed accounts sign in, it has 90
days of history, and ``--workdir`` keeps what a quarterly report is made from."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roomwatch.collector.config import load_config
from roomwatch.collector.db.session import open_database
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.period import parse_period

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
    workdir = tmp_path / "demo"
    started = datetime.now(UTC)
    # One cycle of incidents at 1 s polls takes 43 s (collector.demo.incidents.cycle_s).
    demo = subprocess.Popen(
        [sys.executable, "-m", "roomwatch.collector.cli", "demo", "--duration", "45",
         "--rooms", "1", "--interval", "1", "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert demo.stdout is not None
    lines: list[str] = []
    for line in demo.stdout:  # the live part: sign in with what the demo printed
        lines.append(line)
        if line.startswith("watching"):
            break
    head = "".join(lines)
    signed_in = sign_in_as_printed(head)
    stdout, stderr = demo.communicate(timeout=300)
    stdout = head + stdout
    output = stdout + stderr
    assert demo.returncode == 0, output
    assert signed_in == {"engineer": "engineer", "admin": "admin"}, output
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", stdout)}
    assert len(ports) >= 3 and not ports & set(USUAL_PORTS), output
    assert "summary: 1/1 rooms reporting" in stdout, output
    opened = re.findall(r"fault OPENED\s+(L\d) (.+)", stdout)
    resolved = re.findall(r"fault RESOLVED\s+(L\d) (.+)", stdout)
    assert ("L1", "cam-2 unreachable in room-101") in opened, output
    assert ("L1", "cam-2 unreachable in room-101") in resolved, output
    assert len(opened) >= 3, output
    # Every incident was repaired: the demo's summary counts as many faults resolved as
    # opened. The event lines cannot be paired by title: a title ends in the latest value
    # ("(96 %)" when opened, "(76 %)" when resolved), a ladder renames its fault as it moves
    # ("filling" L3 resolves as "nearly full" L2), and a flapping fault resolves once per
    # reopening.
    counted = re.search(r"(\d+) faults opened .*?, (\d+) resolved", stdout)
    assert counted is not None and counted[1] == counted[2], output
    # one fault per incident: nothing opened twice
    assert len(opened) == len(set(map(without_value, opened))), output
    assert "Traceback" not in output
    # After the repairs and the flapping hold the room is green on the grid; if not, the
    # demo's grid line names the faults that keep it red.
    grid = re.search(r"^grid\s+(.+)$", stdout, re.MULTILINE)
    assert grid is not None and grid[1] == "room-101 green", output
    check_the_flapping_camera_is_one_fault(workdir, started, output)
    # --workdir kept the files, and the summary says how to make a report from them.
    command = re.search(r"^report\s+roomwatch (report --config .+)$", stdout, re.MULTILINE)
    assert command is not None, output
    check_the_history_and_the_report(workdir, command[1].split())


def check_the_flapping_camera_is_one_fault(workdir: Path, started: datetime, output: str) -> None:
    """cam-1's link went down and up three times: one fault, reopened or marked flapping,
    resolved once it stayed up for the hold."""
    db = sqlite3.connect(workdir / "collector.db")
    since = started.replace(tzinfo=None).isoformat(sep=" ")
    faults = db.execute(
        "SELECT id, status, flapping FROM faults WHERE rule_id = 'device_unreachable' "
        "AND target LIKE 'room-101/cam-1%' AND opened_at >= ?",
        (since,),
    ).fetchall()
    assert len(faults) == 1, (faults, output)
    fault_id, status, flapping = faults[0]
    events = {
        row[0]
        for row in db.execute("SELECT type FROM fault_events WHERE fault_id = ?", (fault_id,))
    }
    db.close()
    assert flapping or "reopened" in events, (events, output)
    assert status == "resolved", (status, events, output)


def sign_in_as_printed(head: str) -> dict[str, str]:
    """Sign in to the running demo with each printed account; user name → role."""
    url = re.search(r"^sign in\s+(http://\S+)/ui/", head, re.MULTILINE)
    accounts = re.findall(r"^\s+\w+\s+user (\S+)\s+password (\S+)$", head, re.MULTILINE)
    assert url is not None and accounts, head
    roles = {}
    for username, password in accounts:
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            f"{url[1]}/api/auth/login", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            roles[username] = json.loads(response.read())["role"]
    return roles


def check_the_history_and_the_report(workdir: Path, report_args: list[str]) -> None:
    """90 days in the TSDB and the rollups, and a quarterly report with charts and trends."""
    now = datetime.now(UTC)
    with VictoriaMetrics(workdir / "tsdb") as tsdb:  # the demo's data, read back
        series = tsdb.export('{__name__="camera_temperature_c",room="room-101"}')
    stamps = [t for item in series for t in item["timestamps"]]
    assert min(stamps) / 1000 <= (now - timedelta(days=89)).timestamp()
    assert len(stamps) > 89 * 24  # hourly at least, then every 15 minutes, then live
    db = sqlite3.connect(workdir / "collector.db")
    hours = db.execute(
        "SELECT count(DISTINCT hour) FROM rollups_hourly WHERE metric = 'temperature_c'"
    ).fetchone()[0]
    assert hours >= 89 * 24
    # the collector folds the backfilled days into daily rollups as it runs
    assert db.execute("SELECT count(*) FROM rollups_daily").fetchone()[0] > 0
    logs = db.execute("SELECT count(*) FROM maintenance_logs").fetchone()[0]
    assert logs >= 3
    db.close()

    pdf = workdir / "report.pdf"
    report_args[report_args.index("--out") + 1] = str(pdf)
    made = subprocess.run(
        [sys.executable, "-m", "roomwatch.collector.cli", *report_args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "故障现象" in text and "产生原因" in text  # maintenance logs of past faults
    assert "写满" in text  # the storage that fills is a hazard with its trend
    config = load_config(workdir / "collector.yaml")
    period = parse_period(report_args[report_args.index("--quarter") + 1], config.timezone)
    database = open_database(config.database.url, migrate=False)
    with database.session() as session:
        model = build_report(session, "demo-school", period, "zh-CN", now)
    database.dispose()
    history_days = min(period.days, (now.date() - period.start).days, 90)
    assert len(model.daily_availability) >= history_days - 1
    for room in model.rooms:  # the agent runs on the room's PC: its row has the PC's past
        devices = {d.device: d for d in room.devices}
        agent, host = devices["agent"], devices["host"]
        assert agent.observed_hours == host.observed_hours
        assert agent.availability == pytest.approx(host.availability, abs=0.001)
    trends = [h.series for h in model.hazards if h.series is not None and h.series.fit]
    assert trends and all(len(s.values) >= 14 for s in trends)
