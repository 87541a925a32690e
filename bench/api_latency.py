"""Latency of the dashboard's API endpoints with 1,000 rooms and 10,000 devices in SQL, next to
the framework's floor (a constant route on the same uvicorn).

    .venv/bin/python bench/api_latency.py [--rooms 1000] [--devices-per-room 10]
        [--duration 15] [--connections 16] [--threads 2]

Peer and load generator (Debian): apt-get install -y --no-install-recommends wrk

Builds the collector's SQLite database the way a deployment fills it: the inventory through
``sync_inventory`` (sites, rooms, agents, devices), one latest-state row per device through
``ingest_store.store_latest_many`` (a switch with an 8-port table, cameras, encoder, NAS...),
agents online, 5 % of the devices with an open ``device_unreachable`` fault and 2 closed
faults per room of history. Then serves it with ``bench/api_server.py`` (the collector's
``create_app`` on uvicorn, in its own process) and drives it from ``wrk`` (another process)
with a latency report, one endpoint at a time:

    /bench/floor                a constant, no database (the peer: the framework's floor)
    /healthz                    the collector's liveness (one SELECT 1)
    /api/rooms                  every room with agents, device counts, worst fault
    /api/rooms/{id}             one room, a random one per request (wrk Lua script)
    /api/faults?status=open     the first page of open faults

first at ``--connections`` connections (bounded: ``--duration`` seconds), then at one
connection (the unloaded service time). When the API requires credentials
(``collector.api.auth``), a viewer and an API token are created through its functions and
sent as ``Authorization: Bearer``. Prints p50/p99 and requests/s per endpoint and the ratio
of each endpoint's p99 to the floor's.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EXIT_PEER_MISSING,
    WrkResult,
    find_peer,
    machine_line,
    report_py_spy,
    run_wrk,
    start_py_spy,
)
from roomwatch.agent.wire import DeviceSample, TableRow  # noqa: E402
from roomwatch.collector.db import faults_store, ingest_store  # noqa: E402
from roomwatch.collector.db.models import Device, Fault  # noqa: E402
from roomwatch.collector.db.session import Database, open_database  # noqa: E402
from roomwatch.collector.demo.procs import ManagedProcess, free_port, tcp_open, wait_for  # noqa: E402
from roomwatch.collector.inventory import (  # noqa: E402
    Inventory,
    InventoryDevice,
    InventoryRoom,
    InventorySite,
    sync_inventory,
)

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KIT = [  # (device id, kind, parent): a recording room
    ("host", "host", None),
    ("ups-1", "ups", None),
    ("sw-1", "switch", "ups-1"),
    ("cam-1", "camera", "sw-1"),
    ("cam-2", "camera", "sw-1"),
    ("cam-3", "camera", "sw-1"),
    ("enc-1", "encoder", "sw-1"),
    ("nas-1", "nas", "sw-1"),
    ("proj-1", "projector", "sw-1"),
    ("dsp-1", "audio", "sw-1"),
]
FLOOR = "/bench/floor"
GOAL_RATIO_TO_FLOOR = 2.0  # each dashboard endpoint's p99 at --connections, same run
GOAL_ROOMS_ONE_CONNECTION_MS = 20.0  # /api/rooms p99, one connection


def room_id(i: int) -> str:
    return f"room-{i:04d}"


def kit(devices_per_room: int) -> list[tuple[str, str, str | None]]:
    extra = [(f"cam-{k}", "camera", "sw-1") for k in range(4, devices_per_room)]
    return (KIT + extra)[:devices_per_room]


def sample(device: str, kind: str, rng: random.Random, reachable: bool) -> DeviceSample:
    if not reachable:
        return DeviceSample(device=device, kind=kind, reachable=False, error="timeout")
    metrics = {f"m{k}": round(rng.uniform(0, 100), 2) for k in range(8)}
    tables: dict[str, list[TableRow]] = {}
    if kind == "switch":
        tables["interfaces"] = [
            TableRow(
                labels={"ifindex": str(p), "ifname": f"port{p}"},
                metrics={
                    "oper_up": 1.0,
                    "speed_mbps": 1000.0,
                    "in_bytes_per_s": rng.uniform(0, 1e7),
                    "out_bytes_per_s": rng.uniform(0, 1e7),
                },
            )
            for p in range(1, 9)
        ]
    if kind == "host":
        tables["disk"] = [TableRow(labels={"mount": "/"}, metrics={"used_pct": 41.0})]
    return DeviceSample(
        device=device, kind=kind, reachable=True, rtt_ms=rng.uniform(0.5, 5), metrics=metrics,
        tables=tables,
    )  # fmt: skip


def build_database(db: Database, rooms: int, devices_per_room: int) -> tuple[int, int]:
    """Fill SQL as a deployment would; returns (devices, open faults)."""
    rng = random.Random(7)
    devices = kit(devices_per_room)
    inventory = Inventory(
        sites=[
            InventorySite(
                id=f"site-{s}",
                name=f"Campus {s}",
                rooms=[
                    InventoryRoom(
                        id=room_id(i),
                        name=f"Room {i}",
                        building=f"Building {i // 50}",
                        agents=[f"agent-{i:04d}"],
                        devices=[InventoryDevice(id=d, kind=k, parent=p) for d, k, p in devices],
                    )
                    for i in range(rooms)
                    if i % 4 == s
                ],
            )
            for s in range(min(4, rooms))
        ]
    )
    sync_inventory(db, inventory)
    down = {
        (room_id(i), d)
        for i in range(rooms)
        for d, k, _ in devices
        if k != "host" and rng.random() < 0.05 * len(devices) / max(1, len(devices) - 1)
    }
    reported = {
        room_id(i): [sample(d, k, rng, (room_id(i), d) not in down) for d, k, _ in devices]
        for i in range(rooms)
    }
    with db.session() as session:
        rows = ingest_store.ensure_devices_many(session, reported)
        ingest_store.store_latest_many(
            session,
            [
                (rows[room][s.device].id, s, NOW - timedelta(seconds=rng.uniform(0, 10)))
                for room, samples in reported.items()
                for s in samples
            ],
        )
        for i in range(rooms):
            ingest_store.set_agent_status(
                session, f"agent-{i:04d}", True, NOW - timedelta(days=3), "0.1.0", f"pc-{i:04d}"
            )
        for i in range(rooms):  # history: two faults per room, opened and resolved
            for h in range(2):
                device = devices[1 + (i + h) % (len(devices) - 1)][0]
                at = NOW - timedelta(days=10 + h, hours=i % 24)
                fault = open_device_fault(session, rows, room_id(i), device, at, key=None)
                faults_store.mark_resolved(fault, at + timedelta(minutes=20))
        for room, device in sorted(down):
            open_device_fault(
                session, rows, room, device, NOW - timedelta(minutes=rng.uniform(1, 600))
            )
    return rooms * len(devices), len(down)


def open_device_fault(
    session: Session,
    rows: dict[str, dict[str, Device]],
    room: str,
    device: str,
    at: datetime,
    key: str | None = "",
) -> Fault:
    target = f"{room}/{device}"
    return faults_store.open_fault(
        session,
        open_key=f"device_unreachable|{target}" if key == "" else key,
        at=at,
        rule_id="device_unreachable",
        target=target,
        room_id=room,
        device_id=rows[room][device].id,
        agent_id=f"agent-{room.removeprefix('room-')}",
        level=1,
        title=f"{device} unreachable in {room}",
        description="The device did not answer SNMP within its timeout.",
        evidence={"reachable": 0},
    )


def auth_headers(db: Database) -> list[str]:
    """A viewer's API token when the API requires credentials; none when it does not."""
    try:
        from roomwatch.collector.api import auth
    except ImportError:
        return []
    with db.session() as session:
        user = auth.create_user(session, "bench-viewer", "viewer", NOW)
        issued = auth.issue_token(session, user, datetime.now(UTC), name="api bench")
    return [f"Authorization: Bearer {issued.secret}"]


def fetch(url: str, headers: list[str]) -> bytes:
    request = urllib.request.Request(url)
    for header in headers:
        name, _, value = header.partition(": ")
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
        return bytes(response.read())


def room_script(work: Path, rooms: int) -> Path:
    path = work / "rooms.lua"
    path.write_text(
        "math.randomseed(11)\n"
        "request = function()\n"
        f'  local id = string.format("room-%04d", math.random(0, {rooms - 1}))\n'
        '  return wrk.format("GET", "/api/rooms/" .. id)\n'
        "end\n"
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--devices-per-room", type=int, default=10)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="FILE",
        help="sample the server with py-spy during the loaded runs; stacks to FILE",
    )
    args = parser.parse_args()
    print(machine_line())
    wrk = find_peer("wrk", "wrk")
    if wrk is None:
        print("ratio p99 / floor: n/a (wrk missing)")
        return EXIT_PEER_MISSING
    work = Path(tempfile.mkdtemp(prefix="roomwatch-bench-api-"))
    url = f"sqlite:///{work / 'collector.db'}"
    started = time.perf_counter()
    db = open_database(url)
    devices, open_faults = build_database(db, args.rooms, args.devices_per_room)
    headers = auth_headers(db)
    db.dispose()
    print(
        f"database: {args.rooms} rooms, {devices} devices with state, {open_faults} open "
        f"faults, {2 * args.rooms} closed (SQLite, built in {time.perf_counter() - started:.0f} s)"
    )
    print(f"auth: {'viewer API token (Bearer)' if headers else 'none required'}")
    port = free_port()
    server = ManagedProcess(
        "api",
        [sys.executable, str(ROOT / "bench" / "api_server.py"), "--database", url,
         "--port", str(port)],
        work / "api.log",
    )  # fmt: skip
    try:
        server.start()
        wait_for(lambda: _up(server, port), 60, "the API server")
        base = f"http://127.0.0.1:{port}"
        endpoints = [
            ("floor", FLOOR, None),
            ("/healthz", "/healthz", None),
            ("/api/rooms", "/api/rooms", None),
            ("/api/rooms/{id}", "/api/rooms/" + room_id(0), room_script(work, args.rooms)),
            ("/api/faults?status=open", "/api/faults?status=open", None),
        ]
        sizes = {}
        for name, path, _ in endpoints:
            body = fetch(base + path, headers)
            sizes[name] = len(body)
            if name == "/api/rooms" and len(json.loads(body)) != args.rooms:
                raise RuntimeError("/api/rooms did not list every room")
        results: dict[tuple[str, int], WrkResult] = {}
        assert server.proc is not None
        spy = start_py_spy(args.py_spy, server.proc.pid, args.duration * len(endpoints))
        for connections, threads in ((args.connections, args.threads), (1, 1)):
            if connections == 1 and spy is not None and args.py_spy is not None:
                report_py_spy(spy, args.py_spy)
            for name, path, script in endpoints:
                results[(name, connections)] = run_wrk(
                    wrk, base + path, threads=threads, connections=connections,
                    duration_s=args.duration, headers=headers, script=script,
                )  # fmt: skip
        server.check_alive()
        return report(results, sizes, args)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def report(
    results: dict[tuple[str, int], WrkResult], sizes: dict[str, int], args: argparse.Namespace
) -> int:
    print(
        f"server: uvicorn (one process, the collector's settings); load: wrk "
        f"-t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, then -t1 -c1"
    )
    print(f"{'endpoint':<26} {'conns':>5} {'bytes':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    failed = False
    for (name, connections), got in results.items():
        failed |= got.non_2xx > 0
        print(
            f"{name:<26} {connections:>5} {sizes[name]:>8} {got.requests_per_s:>8.0f} "
            f"{got.p50_ms:>8.2f} {got.p99_ms:>8.2f}"
            + (f"  {got.non_2xx} NOT 2xx" if got.non_2xx else "")
            + (f"  {got.socket_errors} socket errors" if got.socket_errors else "")
            + (f"  {got.timeouts} over wrk's 10 s timeout" if got.timeouts else "")
        )
    for connections in (args.connections, 1):
        floor = results[("floor", connections)]
        for name in [n for n, c in results if c == connections and n != "floor"]:
            got = results[(name, connections)]
            print(
                f"ratio p99 {name} / floor at {connections} conn: "
                f"{got.p99_ms / floor.p99_ms:.1f} ({got.p99_ms:.1f} ms / {floor.p99_ms:.1f} ms)"
            )
    dashboard = [n for n, c in results if c == args.connections and n.startswith("/api")]
    floor_p99 = results[("floor", args.connections)].p99_ms
    worst = max(results[(n, args.connections)].p99_ms / floor_p99 for n in dashboard)
    print(
        f"goal p99 <= {GOAL_RATIO_TO_FLOOR:g} x the floor's at {args.connections} connections: "
        f"{'met' if worst <= GOAL_RATIO_TO_FLOOR else 'MISSED'} (worst ratio {worst:.1f})"
    )
    rooms_c1 = results[("/api/rooms", 1)].p99_ms
    print(
        f"goal /api/rooms p99 <= {GOAL_ROOMS_ONE_CONNECTION_MS:g} ms at 1 connection: "
        f"{'met' if rooms_c1 <= GOAL_ROOMS_ONE_CONNECTION_MS else 'MISSED'} ({rooms_c1:.1f} ms)"
    )
    return 1 if failed else 0


def _up(server: ManagedProcess, port: int) -> bool:
    server.check_alive()
    return tcp_open(port)


if __name__ == "__main__":
    sys.exit(main())
