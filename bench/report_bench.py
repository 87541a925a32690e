"""The quarterly inspection report of a large site, from SQLite rollups.

    .venv/bin/python bench/report_bench.py [--rooms 1000] [--devices 10] [--days 90]
                                           [--db PATH] [--keep] [--no-pdf] [--lang zh-CN]
                                           [--device-detail auto|all|exceptions]

Builds one site of ``--rooms`` rooms with ``--devices`` devices each (host, switch, encoder,
UPS, projector, cameras ...) and ``--days`` days of hourly rollups written the way the
collector writes them (hour after hour, every device) with bulk inserts into SQLite:
``reachable`` and ``rtt_ms`` for every device, cpu / memory / temperature / disk / recorder
process on the host, recording storage on the encoder, battery on the UPS, lamp hours on
the projector, interface errors on the switch, with trends (filling disks, rising
temperatures, worn batteries and lamps) in some rooms, and a few thousand faults with SLA
clocks. Then it times the report: gathering the data (``build_report``), rendering the
HTML, and the PDF (WeasyPrint), and prints rows/s.

The peers, measured in the same run: one bare aggregate scan over the same period of
``rollups_hourly`` (``SELECT count(*), sum(sum), min(min), max(max)``), the least any
report reading those rows could cost, and the same over the period's ``rollups_daily``
rows, which the report reads for settled days; each timed the second time (warm page
cache, as the report then runs). ``ratio`` = report data gathering / bare scan.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.common import machine_line  # noqa: E402
from roomwatch.collector.db.daily_fold import fold_pending, refold_all  # noqa: E402
from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending  # noqa: E402
from roomwatch.collector.db.session import open_database  # noqa: E402
from roomwatch.collector.reports.build import build_report  # noqa: E402
from roomwatch.collector.reports.period import Period, label_of  # noqa: E402
from roomwatch.collector.reports.render import render_html, render_pdf  # noqa: E402

ZONE = "Asia/Shanghai"
KINDS = ["host", "switch", "encoder", "ups", "projector", "audio"]
MODELS = {
    "host": "RS-8000",
    "switch": "S1850",
    "encoder": "ENC-9",
    "ups": "UPS-1K",
    "projector": "PJ-X",
    "audio": "DSP-4",
    "camera": "CAM-A",
}
NOW = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)


def devices_of_room(count: int) -> list[tuple[str, str]]:
    """(device id, kind): the fixed kinds first, cameras for the rest."""
    fixed = KINDS[: min(count, len(KINDS))]
    devices = [(kind, kind) for kind in fixed]
    devices += [(f"cam{n}", "camera") for n in range(1, count - len(fixed) + 1)]
    return devices


def victim_of(layout: list[tuple[str, str]]) -> str:
    """The device the outages and faults of the bench hit: the first camera, else the last."""
    return next((device for device, kind in layout if kind == "camera"), layout[-1][0])


def build_site(path: Path, rooms: int, per_room: int, period: Period, seed: int = 7) -> int:
    """The site's inventory, rollups and faults, written with plain sqlite3 bulk inserts.

    Returns the number of rollup rows."""
    db = open_database(f"sqlite:///{path}")  # the real schema, through the migrations
    db.dispose()
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-2000000")
    con.execute("INSERT INTO sites (id, name, timezone) VALUES ('big', '示范大学', ?)", (ZONE,))
    con.executemany(
        "INSERT INTO rooms (id, site_id, name, building) VALUES (?, 'big', ?, ?)",
        [(f"r{n:04d}", f"录播教室 {n:04d}", f"教学楼 {n // 50 + 1}") for n in range(rooms)],
    )
    layout = devices_of_room(per_room)
    device_rows = []
    for n in range(rooms):
        for device, kind in layout:
            firmware = "V2.3.1 build 250101" if kind == "camera" and n % 10 == 0 else "V2.4.0"
            device_rows.append((f"r{n:04d}", device, kind, MODELS[kind], firmware))
    con.executemany(
        "INSERT INTO devices (room_id, device, kind, model, firmware, procured, source) "
        "VALUES (?, ?, ?, ?, ?, 1, 'inventory')",
        device_rows,
    )
    ids = {
        (room, device): pk
        for pk, room, device in con.execute("SELECT id, room_id, device FROM devices")
    }
    con.executemany(
        "INSERT INTO spare_stock (site_id, model, held, used, updated_at) VALUES "
        "('big', ?, ?, 0, '2026-10-01 00:00:00.000000')",
        [(model, rng.randint(50, 400)) for model in MODELS.values()],
    )
    start = period.start_utc
    con.execute("CREATE TEMP TABLE bench_hours (h INTEGER, day INTEGER, hour TEXT)")
    con.executemany(
        "INSERT INTO bench_hours VALUES (?, ?, ?)",
        [
            (h, h // 24, (start + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S.000000"))
            for h in range(period.days * 24)
        ],
    )
    con.execute(
        "CREATE TEMP TABLE bench_plan (pk INTEGER, metric TEXT, shape TEXT, "
        "a REAL, b REAL, c REAL, phase INTEGER)"
    )
    con.executemany(
        "INSERT INTO bench_plan VALUES (?, ?, ?, ?, ?, ?, ?)", _metric_plan(rooms, layout, ids, rng)
    )
    plan_rows = con.execute("SELECT count(*) FROM bench_plan").fetchone()[0]
    # The rows are generated inside SQLite, hour after hour as ingest appends them (SQLite
    # never reorders a CROSS JOIN: hours outside, series inside), a week per statement.
    # Shapes: const a; daily a + b*day (spread c); cycle between a and b over the day;
    # outage: down on day a.
    generate = """
        INSERT INTO rollups_hourly (device_id, metric, hour, count, sum, min, max)
        SELECT pk, metric, hour, 60, value * 60,
               CASE shape WHEN 'cycle' THEN value * 0.8 WHEN 'daily' THEN value - c / 2
                          ELSE value END,
               CASE shape WHEN 'cycle' THEN value * 1.2 WHEN 'daily' THEN value + c / 2
                          ELSE value END
        FROM (
          SELECT p.pk, p.metric, p.shape, p.c, hs.h, hs.hour,
                 CASE p.shape
                   WHEN 'const' THEN p.a
                   WHEN 'daily' THEN p.a + p.b * hs.day
                   WHEN 'cycle'
                     THEN p.a + (p.b - p.a) * (0.5 + 0.5 * sin((hs.h + p.phase) * 0.2618))
                   WHEN 'outage' THEN CASE WHEN hs.day = CAST(p.a AS INTEGER) THEN 0.0 ELSE 1.0 END
                 END AS value
          FROM bench_hours hs CROSS JOIN bench_plan p
          WHERE hs.h >= ? AND hs.h < ?
        )
    """
    week = 24 * 7
    for first in range(0, period.days * 24, week):
        con.execute(generate, (first, first + week))
        con.commit()
    _faults(con, rooms, layout, ids, start, period.days, rng)
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return plan_rows * period.days * 24


def _metric_plan(rooms, layout, ids, rng):  # type: ignore[no-untyped-def]
    """(device pk, metric key, shape, a, b, c, phase) of every rollup series."""
    plan = []
    for n in range(rooms):
        room = f"r{n:04d}"
        outage = n % 25 == 0  # one room in 25 lost a camera for a day
        for device, kind in layout:
            pk = ids[(room, device)]
            if outage and device == victim_of(layout):
                plan.append((pk, "reachable", "outage", 40, 0, 0, 0))
            else:
                plan.append((pk, "reachable", "const", 1.0, 0, 0, 0))
            plan.append((pk, "rtt_ms", "cycle", 0.4, 3.0, 0, rng.randint(0, 23)))
            if kind == "host":
                rising = n % 20 == 0
                filling = n % 10 == 0
                plan += [
                    (pk, "cpu_pct", "cycle", 5, 70, 0, rng.randint(0, 23)),
                    (pk, "mem_pct", "cycle", 30, 60, 0, rng.randint(0, 23)),
                    (pk, "temperature_c", "daily", 45, 0.1 if rising else 0.0, 4, 0),
                    (
                        pk,
                        "disk.used_pct{mount=/}",
                        "daily",
                        40 + n % 30,
                        0.5 if filling else 0,
                        1,
                        0,
                    ),
                    (pk, "process.running{name=recorder}", "const", 1.0, 0, 0, 0),
                ]
            elif kind == "encoder":
                plan.append((pk, "storage.used_pct{storage=/record}", "daily", 35, 0.05, 1, 0))
            elif kind == "ups":
                plan += [
                    (
                        pk,
                        "battery_minutes_remaining",
                        "daily",
                        30,
                        -0.1 if n % 30 == 0 else 0,
                        0,
                        0,
                    ),
                    (pk, "battery_replace", "const", 1.0 if n % 50 == 0 else 0.0, 0, 0, 0),
                ]
            elif kind == "projector":
                plan += [
                    (pk, "lamp_hours", "daily", 1000 + (n * 7) % 1000, 4, 0, 0),
                    (pk, "lamp_life_hours", "const", 2000.0, 0, 0, 0),
                ]
            elif kind == "switch":
                plan.append(
                    (pk, "interfaces.in_errors_per_s{ifindex=1,ifname=ge1}", "const", 0, 0, 0, 0)
                )
    return plan


def _faults(con, rooms, layout, ids, start, days, rng) -> None:  # type: ignore[no-untyped-def]
    """About three faults per room, resolved, half with SLA clocks."""
    victim = victim_of(layout)
    faults, clocks = [], []
    fault_id = 0
    for n in range(rooms):
        room = f"r{n:04d}"
        for _ in range(3):
            fault_id += 1
            opened = start + timedelta(minutes=rng.randint(0, days * 24 * 60 - 600))
            fixed = opened + timedelta(minutes=rng.randint(10, 600))
            level = rng.choice([1, 2, 3, 3, 4])
            stamp = opened.strftime("%Y-%m-%d %H:%M:%S.000000")
            done = fixed.strftime("%Y-%m-%d %H:%M:%S.000000")
            faults.append(
                (
                    fault_id,
                    "device_unreachable",
                    f"{room}/{victim}",
                    room,
                    ids[(room, victim)],
                    level,
                    "resolved",
                    f"{victim} unreachable",
                    stamp,
                    done,
                    done,
                )
            )
            if fault_id % 2:
                deadline = (opened + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S.000000")
                met = 1 if fixed < opened + timedelta(hours=8) else 0
                clocks.append((fault_id, "fix", level, stamp, deadline, done, met))
    con.executemany(
        "INSERT INTO faults (id, rule_id, target, room_id, device_id, level, status, title, "
        "opened_at, last_seen_at, resolved_at, description, fire_count, evidence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 1, '{}')",
        faults,
    )
    con.executemany(
        "INSERT INTO sla_clocks (fault_id, kind, policy_id, level, measure, budget_s, timezone, "
        "started_at, deadline_at, stopped_at, met, paused_total_s) "
        "VALUES (?, ?, '7x24', ?, 'wall', 28800, 'Asia/Shanghai', ?, ?, ?, ?, 0)",
        clocks,
    )


def bare_scan(path: Path, period: Period, daily: bool = False) -> tuple[float, int]:
    """One aggregate pass over the period's hourly rollups (or, ``daily``, over the daily
    rows of the days starting in it): the least a report reading them could cost."""
    con = sqlite3.connect(path)
    lo = period.start_utc.strftime("%Y-%m-%d %H:%M:%S.000000")
    hi = period.end_utc.strftime("%Y-%m-%d %H:%M:%S.000000")
    # The daily table is kept in (device, metric, day) order: a range of days is cheapest
    # read by one pass over the table ("+" keeps SQLite off the day index, through which
    # every row would be a lookup: 7 s instead of 1.4 s at 1,000 rooms).
    table, column = ("rollups_daily", "+day_start") if daily else ("rollups_hourly", "hour")
    began = time.perf_counter()
    count = con.execute(
        f"SELECT count(*), sum(sum), min(min), max(max) FROM {table} "
        f"WHERE {column} >= ? AND {column} < ?",
        (lo, hi),
    ).fetchone()[0]
    elapsed = time.perf_counter() - began
    con.close()
    return elapsed, int(count)


def _pages(path: Path) -> str:
    """Page count from poppler's pdfinfo, "?" without it."""
    if not shutil.which("pdfinfo"):
        return "?"
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


def fold_daily(path: Path) -> None:
    """Daily rollups from the hourly rows, as the collector's folding job builds them for
    history (the rows above went in by bulk insert, without ingest's pending marks)."""
    db = open_database(f"sqlite:///{path}")  # a database of older code gets the new tables
    began = time.perf_counter()
    with db.session(write=True) as session:
        if not session.scalar(select(func.count()).select_from(RollupDaily)):
            if not session.scalar(select(func.count()).select_from(RollupDailyPending)):
                refold_all(session)
            windows = fold_pending(session, NOW, ZONE)
            daily = session.scalar(select(func.count()).select_from(RollupDaily)) or 0
            spent = time.perf_counter() - began
            print(f"daily rollups: {daily:,} rows, {windows} local days folded in {spent:.0f} s")
    db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--db", type=Path, default=None, help="reuse or keep the database here")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN")
    parser.add_argument("--device-detail", choices=["auto", "all", "exceptions"], default="auto")
    args = parser.parse_args()
    print(machine_line())
    workdir = args.db.parent if args.db else Path(tempfile.mkdtemp(prefix="report-bench-"))
    path = args.db or workdir / "bench.db"
    start = date(2026, 7, 1)
    period = Period(start, start + timedelta(days=args.days), ZONE, "")
    period = Period(period.start, period.end, ZONE, label_of(period.start, period.end))
    try:
        if path.exists():
            print(f"reusing {path}")
            rows = bare_scan(path, period)[1]
        else:
            began = time.perf_counter()
            rows = build_site(path, args.rooms, args.devices, period)
            spent = time.perf_counter() - began
            size = path.stat().st_size / 2**30
            print(
                f"built: {args.rooms} rooms x {args.devices} devices x {args.days} days = "
                f"{rows:,} rollup rows in {spent:.0f} s ({rows / spent:,.0f} rows/s), "
                f"{size:.1f} GiB"
            )
        fold_daily(path)
        # twice: the first reads the file into the page cache, the second is the peer
        bare_scan(path, period)
        scan_s, scanned = bare_scan(path, period)
        print(
            f"peer: bare aggregate scan of {scanned:,} rows: {scan_s:.1f} s "
            f"({scanned / scan_s:,.0f} rows/s)"
        )
        bare_scan(path, period, daily=True)
        daily_s, daily_rows = bare_scan(path, period, daily=True)
        print(
            f"peer 2: bare aggregate scan of the period's {daily_rows:,} daily rows, which "
            f"the report reads: {daily_s:.2f} s ({daily_rows / daily_s:,.0f} rows/s)"
        )
        db = open_database(f"sqlite:///{path}", migrate=False)
        began, cpu = time.perf_counter(), time.process_time()
        with db.session() as session:
            report = build_report(session, "big", period, args.lang, NOW)
        gather_s, gather_cpu = time.perf_counter() - began, time.process_time() - cpu
        print(
            f"report data: {len(report.rooms)} rooms, {report.device_count} devices, "
            f"{len(report.hazards)} hazards, {len(report.faults.faults)} faults: "
            f"{gather_s:.1f} s ({rows / gather_s:,.0f} rollup rows/s; "
            f"this process's CPU {gather_cpu:.1f} s, SQLite runs in it)"
        )
        # Again in the same process, as a collector's next report job would run it.
        began = time.perf_counter()
        with db.session() as session:
            build_report(session, "big", period, args.lang, NOW)
        print(f"report data again, same process: {time.perf_counter() - began:.1f} s")
        db.dispose()
        began = time.perf_counter()
        html = render_html(report, args.lang, args.device_detail)
        html_s = time.perf_counter() - began
        print(f"html: {len(html) / 2**20:.1f} MiB in {html_s:.1f} s")
        if not args.no_pdf:
            began, cpu = time.perf_counter(), time.process_time()
            pdf = render_pdf(html)
            pdf_s, pdf_cpu = time.perf_counter() - began, time.process_time() - cpu
            (workdir / "report.pdf").write_bytes(pdf)
            pages = _pages(workdir / "report.pdf")
            print(
                f"pdf: {len(pdf) / 2**20:.1f} MiB, ~{pages} pages in {pdf_s:.1f} s "
                f"(CPU {pdf_cpu:.1f} s)"
            )
        else:
            pdf_s = 0.0
        total = gather_s + html_s + pdf_s
        print(f"total: {total:.1f} s for the report ({rows / total:,.0f} rollup rows/s)")
        print(f"ratio report-data/bare-scan: {gather_s / scan_s:.2f}")
        print(f"ratio report-data/daily-scan: {gather_s / daily_s:.2f}")
        return 0
    finally:
        if not args.keep and args.db is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
