"""``roomwatch demo``: a broker, a TSDB, the collector and simulated classrooms on one machine.

Everything is real and runs on free loopback ports: mosquitto with the production ACL,
VictoriaMetrics, the collector on SQLite, one snmpd per simulated device, one agent process
per room. A schedule of incidents (a camera unplugged, recording storage filling, the UPS on
battery, an agent killed, the recorder crashing, a camera whose link flaps) opens one fault
each and then resolves it, so the grid returns to green between cycles.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from roomwatch.collector.config import load_config
from roomwatch.collector.db.session import open_database
from roomwatch.collector.demo import history
from roomwatch.collector.demo.accounts import create_users, demo_users
from roomwatch.collector.demo.backfill import HISTORY_DAYS, backfill
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.incidents import Incident, cycle_s, describe, flap_policy, schedule
from roomwatch.collector.demo.procs import (
    ManagedProcess,
    MissingComponentError,
    free_port,
    wait_for,
)
from roomwatch.collector.demo.rooms import SimRoom
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.demo.world import World
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.rules.model import load_rule_pack
from roomwatch.collector.sla.runtime import load_sla_data

SITE_ID = "demo-school"
COLLECTOR_USER = "collector"
GRID_COLOURS = {"ok": "green", "offline": "grey", "unmonitored": "grey"}


class Demo:
    def __init__(self, rooms: int, interval_s: float, workdir: Path) -> None:
        self.workdir = workdir
        self.interval_s = interval_s
        self.collector_password = secrets.token_urlsafe(16)
        self.api_port = free_port()
        self.broker = MosquittoBroker(workdir / "broker")
        try:
            self.tsdb: VictoriaMetrics | None = VictoriaMetrics(workdir / "tsdb")
        except MissingComponentError as exc:
            say(f"TSDB        none: {exc}; samples are kept in SQL only (latest state, rollups)")
            self.tsdb = None
        self.rooms = [
            SimRoom(
                room_id=f"room-{101 + i}",
                agent_id=f"agent-{101 + i}",
                workdir=workdir / "rooms" / f"room-{101 + i}",
                password=secrets.token_urlsafe(16),
                interval_s=interval_s,
            )
            for i in range(rooms)
        ]
        self.collector: ManagedProcess | None = None
        self.world = World(self.rooms)
        self.seen_faults: dict[int, str] = {}
        self.past_faults: set[int] = set()  # the history's, not reported as they change
        self.api_token: str | None = None
        self.users = demo_users()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # --- bring-up ------------------------------------------------------------------------
    def start(self) -> None:
        self.broker.add_user(COLLECTOR_USER, self.collector_password, collector=True)
        for room in self.rooms:
            self.broker.add_user(room.agent_id, room.password)
        self.broker.start()
        say(f"broker      mosquitto on 127.0.0.1:{self.broker.port} (per-agent ACL)")
        if self.tsdb is not None:
            self.tsdb.start()
            say(f"TSDB        VictoriaMetrics on {self.tsdb.url} (InfluxDB write API)")
        for room in self.rooms:
            room.start_devices()
            room.start_recorder()
        devices = sum(len(r.devices) for r in self.rooms)
        say(f"rooms       {len(self.rooms)} classrooms, {devices} SNMP devices (net-snmp snmpd)")
        self._start_collector()
        say(f"collector   API on {self.api}/api/rooms  and  {self.api}/api/faults?status=open")
        say(f"dashboard   {self.api}/ui/  (rooms change colour as incidents come and go)")
        for room in self.rooms:
            room.start_agent(self.broker.port)
        say(f"agents      {len(self.rooms)} agents polling every {self.interval_s:g} s")
        say(f"files       {self.workdir}")
        say(f"sign in     {self.api}/ui/  (demo accounts, new passwords every run)")
        for user in self.users:
            say(f"              {user.role:<9} user {user.username:<9} password {user.password}")

    def _start_collector(self) -> None:
        inventory = self.workdir / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(self._inventory(), sort_keys=False))
        config = self.workdir / "collector.yaml"
        config.write_text(yaml.safe_dump(self._collector_config(inventory), sort_keys=False))
        config.chmod(0o600)
        self._prepare_database(config)
        self.collector = ManagedProcess(
            "collector",
            [sys.executable, "-m", "roomwatch.collector.cli", "collector", "--config", str(config)],
            self.workdir / "collector.log",
        )
        self.collector.start()
        wait_for(self._collector_ready, 30, "collector API")

    def _prepare_database(self, config_path: Path) -> None:
        """The database the collector will open: inventory, SLA policies, the demo's
        users (an admin's API token kept in a file of the work directory for the console)
        and 90 days of history, so charts, statistics and a report have content."""
        config = load_config(config_path)
        db = open_database(config.database.url)
        try:
            sync_inventory(db, load_inventory(self.workdir / "inventory.yaml"))
            now = datetime.now(UTC)
            load_sla_data(db, now, config.sla.files)
            self.api_token = create_users(db, self.users, now)
            path = self.workdir / "api-token"
            path.write_text(self.api_token + "\n")
            path.chmod(0o600)
            say(f"API         token of user 'admin' in {path}")
            rooms = [history_of(r, i, len(self.rooms)) for i, r in enumerate(self.rooms)]
            done = backfill(db, config, rooms, SITE_ID, now)
        finally:
            db.dispose()
        say(
            f"history     {HISTORY_DAYS} days before now written in {done.seconds:.0f} s: "
            f"{done.lines} samples in the TSDB, {done.rollup_rows} hourly rollups, "
            f"{done.faults} past faults with maintenance logs"
        )

    def _collector_ready(self) -> bool:
        assert self.collector is not None
        self.collector.check_alive()
        try:
            return get_json(f"{self.api}/healthz") is not None
        except OSError:
            return False

    def _collector_config(self, inventory: Path) -> dict[str, Any]:
        return {
            "mqtt": {
                "host": "127.0.0.1",
                "port": self.broker.port,
                "username": COLLECTOR_USER,
                "password": self.collector_password,
            },
            "tsdb": {"url": self.tsdb.url} if self.tsdb else {"enabled": False},
            "database": {"url": f"sqlite:///{self.workdir / 'collector.db'}"},
            "api": {"host": "127.0.0.1", "port": self.api_port},
            "inventory_file": str(inventory),
            "faults": {
                "agent_silence_s": max(30.0, self.interval_s * 4),
                "evaluate_every_s": 2,
                "rules_files": [str(self._rules_file())],
            },
        }

    def _rules_file(self) -> Path:
        """The pack's flapping policy is made for polls every 30-60 s; the demo polls every
        few seconds, so its reopen window and hold are counted in polls (incidents.py)."""
        policy = flap_policy(self.interval_s)
        path = self.workdir / "rules-demo.yaml"
        overrides = [{"id": rule.id, "flapping": dict(policy)} for rule in load_rule_pack()]
        path.write_text(yaml.safe_dump({"overrides": overrides}, sort_keys=False))
        return path

    def _inventory(self) -> dict[str, Any]:
        return {
            "sites": [
                {
                    "id": SITE_ID,
                    "name": "Demo School",
                    "rooms": [
                        {
                            "id": room.room_id,
                            "name": f"Recording room {room.room_id[-3:]}",
                            "building": "Teaching Building A",
                            "agents": [room.agent_id],
                            "devices": [
                                {**d, "model": d.get("model") or history.MODELS[d["id"]]}
                                for d in room.inventory_devices()
                            ],
                        }
                        for room in self.rooms
                    ],
                }
            ]
        }

    # --- running -------------------------------------------------------------------------
    def watch(self, duration_s: float | None) -> None:
        cycle = cycle_s(self.interval_s)
        incidents = duration_s is None or duration_s >= cycle
        if not incidents:
            say(
                f"incidents   none: {duration_s:g} s is shorter than one incident cycle "
                f"({cycle:g} s at {self.interval_s:g} s polls); the rooms run undisturbed"
            )
        self.past_faults = {fault["id"] for fault in self._faults()}
        started = time.monotonic()
        pending: list[Incident] = []
        cycles = 0
        next_world = next_report = 0.0
        world_thread: threading.Thread | None = None
        while duration_s is None or time.monotonic() - started < duration_s:
            elapsed = time.monotonic() - started
            if incidents and not pending and (duration_s is None or elapsed < 1):
                pending = schedule(self.rooms, self.interval_s, offset_s=elapsed, cycle=cycles)
                say(f"[{elapsed:5.0f}s] incidents of cycle {cycles + 1} ({cycle:g} s):")
                for line in describe(self.rooms, self.interval_s, cycle=cycles):
                    say(f"          {line}")
                cycles += 1
            while pending and pending[0].at_s <= elapsed:
                incident = pending.pop(0)
                say(f"[{elapsed:5.0f}s] incident: {incident.text}")
                incident.action()
            if elapsed >= next_world and not (world_thread and world_thread.is_alive()):
                # SNMP SETs to 30 devices take a while: keep the incident clock on time.
                world_thread = threading.Thread(target=self.world.step, name="world", daemon=True)
                world_thread.start()
                next_world = elapsed + self.interval_s
            if elapsed >= next_report:
                self._report_fault_changes(elapsed)
                next_report = elapsed + 1.0
            # a flapping link is down for a few polls: keep its timing within a quarter second
            time.sleep(0.25)

    def _faults(self) -> list[dict[str, Any]]:
        """The faults the live part opened (the history's left out)."""
        found = get_json(f"{self.api}/api/faults?limit=500", self.api_token) or {}
        return [f for f in found.get("items", []) if f["id"] not in self.past_faults]

    def _report_fault_changes(self, elapsed: float) -> None:
        try:
            faults = self._faults()
        except OSError:
            return
        for fault in faults:
            before = self.seen_faults.get(fault["id"])
            now = fault["status"] + (" flapping" if fault.get("flapping") else "")
            if before == now:
                continue
            self.seen_faults[fault["id"]] = now
            verbs = []
            if fault["status"] != (before or "").split(" ")[0]:
                reopened = fault["status"] == "open" and before is not None
                verbs.append("REOPENED" if reopened else fault["status"].upper())
            if now.endswith("flapping") and not (before or "").endswith("flapping"):
                verbs.append("FLAPPING")  # one fault, held until the target stays clear
            for verb in verbs:
                verb = "OPENED" if verb == "OPEN" else verb
                say(f"[{elapsed:5.0f}s] fault {verb:<8} L{fault['level']} {fault['title']}")

    def summary(self) -> str:
        try:
            rooms = get_json(f"{self.api}/api/rooms", self.api_token) or {}
            fault_items = self._faults()
        except OSError:
            return "collector not reachable for a summary"
        items = rooms if isinstance(rooms, list) else rooms.get("items", [])
        say(grid_line(items, fault_items))
        reporting = sum(1 for r in items if any(a.get("online") for a in r.get("agents", [])))
        opened = len(fault_items)
        resolved = sum(1 for f in fault_items if f["status"] in ("resolved", "closed"))
        by_level = {lvl: sum(1 for f in fault_items if f["level"] == lvl) for lvl in (1, 2, 3, 4)}
        levels = ", ".join(f"L{k}: {v}" for k, v in by_level.items() if v)
        return (
            f"summary: {reporting}/{len(items)} rooms reporting; {opened} faults opened "
            f"({levels or 'none'}), {resolved} resolved"
        )

    def stop(self) -> None:
        # The collector first: agents going away at the end are no outage to record.
        if self.collector is not None:
            self.collector.stop()
        for room in self.rooms:
            room.stop()
        if self.tsdb is not None:
            self.tsdb.stop()
        self.broker.stop()


def grid_line(rooms: list[dict[str, Any]], faults: list[dict[str, Any]]) -> str:
    """Each room's colour on the dashboard's grid (collector.web.tiles.room_state), and
    for a room that is not green, the faults that keep it so."""
    states = []
    for room in rooms:
        if not room.get("agents"):
            state = "unmonitored"
        elif not any(a.get("online") for a in room["agents"]):
            state = "offline"
        elif room.get("worst_open_level") is not None:
            state = f"L{room['worst_open_level']}"
        else:
            state = "ok"
        text = f"{room['id']} {GRID_COLOURS.get(state, state)}"
        why = [
            f"{f['title']}{' (flapping)' if f.get('flapping') else ''}"
            for f in faults
            if f.get("room_id") == room["id"] and f["status"] not in ("resolved", "closed")
        ]
        states.append(f"{text} ({'; '.join(why)})" if why and state != "ok" else text)
    return "grid        " + ", ".join(states)


def get_json(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=3) as response:
        return json.loads(response.read())


def say(text: str) -> None:
    print(text, flush=True)


def run_demo(duration_s: float | None, rooms: int, interval_s: float, workdir: Path | None) -> int:
    keep = workdir is not None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="roomwatch-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        demo = Demo(rooms, interval_s, workdir)
    except MissingComponentError as exc:
        print(f"roomwatch demo: {exc}", file=sys.stderr)
        return 1
    status = 0
    try:
        demo.start()
        say(
            "watching: incidents are injected on a schedule; Ctrl-C stops everything"
            if duration_s is None
            else f"watching for {duration_s:g} s"
        )
        demo.watch(duration_s)
    except KeyboardInterrupt:
        say("stopping")
    except Exception as exc:
        print(f"roomwatch demo: {exc}", file=sys.stderr)
        status = 1
    finally:
        say(demo.summary())
        demo.stop()
        if keep:
            say(
                f"report      roomwatch report --config {workdir / 'collector.yaml'} "
                f"--site {SITE_ID} --quarter {busiest_quarter(datetime.now(UTC))} "
                "--lang zh-CN --out report.pdf"
            )
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            say("files       removed; roomwatch demo --workdir DIR keeps them to make a report")
    return status


def history_of(room: SimRoom, index: int, rooms: int) -> history.RoomHistory:
    """What sets a room's past apart: every third room's archive job stopped (its storage
    fills), the next one's UPS battery ages, the next one's switch port gathers errors; a
    demo of one room has them all but the first."""
    return history.RoomHistory(
        room.room_id,
        room.agent_id,
        index,
        archive_stops_days_ago=28.0 if index % 3 == 0 else None,
        battery_ageing=index % 3 == 1 or rooms == 1,
        port_errors=index % 3 == 2 or rooms == 1,
    )


def busiest_quarter(now: datetime, timezone: str = "Asia/Shanghai") -> str:
    """The quarter holding most of the history's days (the one a report shows best)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    days: dict[str, int] = {}
    for back in range(HISTORY_DAYS + 1):
        day = today - timedelta(days=back)
        label = quarter_of(day)
        days[label] = days.get(label, 0) + 1
    return max(days, key=lambda label: (days[label], label))


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"
