"""Where the room agent's memory goes: RSS stage by stage, or the Python heap by package.

    .venv/bin/python bench/agent_memory.py CONFIG --state-dir DIR [--cycles 5] [--tracemalloc]

Run by ``bench/agent_footprint.py`` after its measurement (broker and devices still up);
usable alone against any agent config whose broker and devices answer. It imports the
agent's dependencies one by one, then builds the agent from CONFIG (with its own state
folder and a 1 s interval so the cycles come quickly), runs its first poll cycle and a few
more, and prints the RSS after each stage. With ``--tracemalloc`` it prints instead what
Python objects allocated after the imports (config, agent, cycles) still hold, summed by the
package that allocated them. Last, it says whether the agent loaded pysnmp (only SNMPv3
credentials, SET or the trap receiver do: the imports above are the agent's own, so pysnmp
is not among them).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PAGE = os.sysconf("SC_PAGE_SIZE")
_STARTED = time.perf_counter()
_last_rss = 0.0


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


def _stage(name: str) -> None:
    global _last_rss
    rss = _rss_mib()
    delta = f"+{rss - _last_rss:5.1f}" if _last_rss else "      "
    elapsed_ms = (time.perf_counter() - _STARTED) * 1000
    print(f"  {name:<52} {rss:6.1f} MiB {delta}   (t={elapsed_ms:6.0f} ms)", flush=True)
    _last_rss = rss


def main() -> int:
    tracing = "--tracemalloc" in sys.argv
    if not tracing:
        print("agent memory stage by stage (RSS, change):")
        _stage("interpreter + site")
    import argparse
    import asyncio
    import logging
    import sqlite3  # noqa: F401 -- the spool's

    if not tracing:
        _stage("+ stdlib (asyncio, logging, sqlite3, argparse)")
    import pydantic  # noqa: F401

    if not tracing:
        _stage("+ pydantic")
    import yaml  # noqa: F401

    if not tracing:
        _stage("+ PyYAML")
    import psutil  # noqa: F401

    if not tracing:
        _stage("+ psutil")
    import paho.mqtt.client  # noqa: F401

    if not tracing:
        _stage("+ paho-mqtt")
    from pathlib import Path

    import roomwatch.agent.config
    import roomwatch.agent.wire

    if not tracing:
        _stage("+ agent.wire, agent.config (pydantic models)")
    import roomwatch.agent.snmp.poller
    import roomwatch.agent.snmp.profile

    if not tracing:
        _stage("+ agent.snmp (client, profiles, poller)")
    import roomwatch.agent.host

    if not tracing:
        _stage("+ agent.host (probes)")
    import roomwatch.agent.publisher
    import roomwatch.agent.runner
    import roomwatch.agent.spool  # noqa: F401

    if not tracing:
        _stage("+ agent.runner, publisher, spool")
    from roomwatch.agent.__main__ import build_runner
    from roomwatch.agent.config import load_config

    if not tracing:
        _stage("+ agent.__main__ (sd_notify, health endpoint if on)")

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if tracing:  # from here on: imports are measured by the stages above
        import tracemalloc

        tracemalloc.start(32)
    config = load_config(args.config)
    config = config.model_copy(update={"state_dir": args.state_dir, "interval_s": 1.0})
    runner = build_runner(config)
    if not tracing:
        _stage("+ config validated, agent built (profiles, spool)")

    async def cycles() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await runner.started.wait()
        if not tracing:
            _stage(f"+ first poll cycle ({len(config.devices)} devices identified and polled)")
        deadline = time.monotonic() + 30 + 3 * args.cycles
        while runner.counters.cycles < 1 + args.cycles and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if not tracing:
            _stage(f"+ {runner.counters.cycles - 1} more poll cycles")
        else:
            _print_heap()
        stop.set()
        await task

    asyncio.run(cycles())
    if not tracing:
        loaded = [name for name in ("pysnmp", "pyasn1", "cryptography") if name in sys.modules]
        print(f"  loaded by the agent: {', '.join(loaded) or 'no pysnmp, pyasn1, cryptography'}")
    return 0


def _package(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "?"
    for mark in ("agent", "collector", "bench"):
        if mark in parts[-3:-1]:
            return f"roomwatch {mark}" if mark != "bench" else "(top-level imports)"
    return "stdlib"


def _owner(traceback: Any) -> str:
    """The package whose code asked for the memory: the most recent frame outside the
    import machinery (a module's code objects count for the package importing it)."""
    for frame in reversed(list(traceback)):
        if not frame.filename.startswith("<frozen") and "importlib" not in frame.filename:
            return _package(frame.filename)
    return "import machinery"


def _print_heap() -> None:
    import tracemalloc

    snapshot = tracemalloc.take_snapshot()
    by_package: dict[str, int] = {}
    for stat in snapshot.statistics("traceback"):
        name = _owner(stat.traceback)
        by_package[name] = by_package.get(name, 0) + stat.size
    total = sum(by_package.values())
    print(
        f"Python heap allocated after the imports, still held after the poll cycles "
        f"(tracemalloc): {total / 2**20:.1f} MiB, by the package that asked for it:"
    )
    for name, size in sorted(by_package.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {name:<28} {size / 2**20:6.2f} MiB")


if __name__ == "__main__":
    sys.exit(main())
