"""``ingest_bench.py --collectors N``: the same load into a collector group on PostgreSQL
of 1 member, then of N members, side by side.

Each run gets a fresh PostgreSQL database (``ROOMWATCH_BENCH_POSTGRES_URL``, default the
local server, user postgres; dropped afterwards), a fresh mosquitto with the group's
partition accounts and a fresh VictoriaMetrics. The members start one after the other and
the clock starts once every partition is leased and the leases are spread over all of
them; it stops when the members' ``roomwatch_collector_messages_total`` add up to every
message sent. Every value is then counted in the TSDB. Prints messages/s of each run, the
ratio N / 1, and the members' CPU seconds per message: on a machine with fewer cores than
members plus broker, TSDB and PostgreSQL, the ratio shows the group's overhead, and the CPU
per message says what more cores would give.
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import ingest_bench as single
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.procs import ManagedProcess, free_port
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.group.partitions import partition_account

POSTGRES_ADMIN_URL = os.environ.get(
    "ROOMWATCH_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COUNTER = 'roomwatch_collector_messages_total{kind="metrics"}'


@dataclass(frozen=True)
class GroupRun:
    members: int
    elapsed_s: float
    stored_values: int
    member_cpu_s: float
    others_cpu_s: dict[str, float]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database for one run; dropped afterwards."""
    name = f"roomwatch_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_group(
    args: argparse.Namespace, members: int, per_agent: int, binary: str | None
) -> GroupRun:
    total = per_agent * args.agents
    work = Path(tempfile.mkdtemp(prefix=f"roomwatch-bench-group{members}-"))
    broker = MosquittoBroker(work / "broker")
    broker.add_user("collector", single.PASSWORD, collector=True)
    for p in range(args.partitions):
        broker.add_user(partition_account("collector", p), single.PASSWORD, collector=True)
    for i in range(args.agents):
        broker.add_user(single.agent_id(i), single.PASSWORD)
    tsdb = VictoriaMetrics(work / "tsdb")
    collectors: list[ManagedProcess] = []
    load: single.PahoLoad | single.MosquittoPubLoad | None = None
    with postgres_database() as url:
        try:
            broker.start()
            tsdb.start()
            urls = []
            for n in range(members):
                member_args = copy.copy(args)
                member_args.collector_set = [
                    *args.collector_set,
                    f"database.url={url}",
                    "group.enabled=true",
                    f"group.partitions={args.partitions}",
                ]
                api_port = free_port()
                (work / f"member-{n}").mkdir()
                collectors.append(
                    single.start_collector(
                        work / f"member-{n}", member_args, broker.port, tsdb.url, api_port
                    )
                )
                urls.append(f"http://127.0.0.1:{api_port}/metrics")
            _wait_spread(url, args.partitions, members, collectors)
            if binary is not None:
                load = single.MosquittoPubLoad(
                    broker.port, args.agents, per_agent, args.metrics, binary
                )
            else:
                load = single.PahoLoad(
                    broker.port, args.agents, per_agent, args.metrics, args.publishers
                )
            time.sleep(2.0)  # connections up
            watched = {
                "mosquitto": psutil.Process(broker.pid),
                "victoria-metrics": psutil.Process(tsdb.process.proc.pid),  # type: ignore[union-attr]
            }
            member_procs = [psutil.Process(c.proc.pid) for c in collectors]  # type: ignore[union-attr]
            before = {n: single._cpu_s(p) for n, p in watched.items()}
            members_before = sum(single._cpu_s(p) for p in member_procs)
            postgres_before = _postgres_cpu_s()
            started = time.perf_counter()
            load.start()
            _wait_stored(urls, total, 600)
            elapsed = time.perf_counter() - started
            others = {n: single._cpu_s(p) - before[n] for n, p in watched.items()}
            others["postgresql"] = _postgres_cpu_s() - postgres_before
            member_cpu = sum(single._cpu_s(p) for p in member_procs) - members_before
            stored = single.count_values(tsdb, '{__name__=~"encoder_.*"}', total * args.metrics, 30)
            return GroupRun(members, elapsed, stored, member_cpu, others)
        finally:
            if load is not None:
                load.stop()
            for collector in collectors:
                collector.stop()
            tsdb.stop()
            broker.close()


def _wait_spread(url: str, partitions: int, members: int, procs: list[ManagedProcess]) -> None:
    """Until every partition is leased and the leases are spread over every member (a member
    that joins later takes its share from the others: measured after that)."""
    engine = create_engine(url)
    query = text(
        "SELECT count(*), count(DISTINCT holder) FROM collector_leases"
        " WHERE name LIKE 'partition-%' AND expires_at > clock_timestamp()"
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for proc in procs:
                proc.check_alive()
            with engine.connect() as connection:
                held, holders = connection.execute(query).one()
            if held == partitions and holders == min(members, partitions):
                time.sleep(2.0)  # each partition's session has subscribed
                return
            time.sleep(0.5)
        raise TimeoutError(f"the partitions were not spread over {members} members in 120 s")
    finally:
        engine.dispose()


def _wait_stored(urls: list[str], total: int, timeout_s: float) -> None:
    started = time.perf_counter()
    while (count := sum(single.scrape(url, COUNTER) for url in urls)) < total:
        elapsed = time.perf_counter() - started
        if elapsed > timeout_s:
            raise TimeoutError(f"{count:.0f} of {total} messages stored after {timeout_s:.0f} s")
        left_s = (total - count) * elapsed / count if count else 0.0
        time.sleep(min(0.5, max(0.02, left_s / 3)))


def _postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process on this machine so far (the server is
    shared: an estimate, printed apart)."""
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            total += max(0.0, single._cpu_s(proc))
    return total


def main_group(args: argparse.Namespace, per_agent: int, binary: str | None) -> int:
    total = per_agent * args.agents
    runs = [run_group(args, n, per_agent, binary) for n in sorted({1, args.collectors})]
    print(
        f"messages: {total} of {args.metrics} values from {args.agents} agents, "
        f"{args.partitions} partitions, PostgreSQL"
    )
    for run in runs:
        rate = total / run.elapsed_s
        others = ", ".join(f"{n} {s:.1f}" for n, s in run.others_cpu_s.items() if s >= 0)
        print(
            f"{run.members} collector(s): {rate:,.0f} messages/s ({run.elapsed_s:.1f} s); "
            f"stored {run.stored_values} of {total * args.metrics} values; CPU s: members "
            f"{run.member_cpu_s:.1f} ({run.member_cpu_s / total * 1e6:.0f} us per message), "
            f"{others}"
        )
    first, last = runs[0], runs[-1]
    print(f"ratio {last.members} collectors / 1: {first.elapsed_s / last.elapsed_s:.2f}")
    print(f"cores: {os.cpu_count()}; load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0 if all(run.stored_values == total * args.metrics for run in runs) else 1
