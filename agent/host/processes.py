"""Watched processes (the recording software and friends): running, cpu, memory, events."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psutil

from roomwatch.agent.config import ProcessWatch
from roomwatch.agent.host.base import CounterRates, ProbeReading
from roomwatch.agent.wire import Event, TableRow
from roomwatch.agent.wire import now as wall_now

# Every process is read only as far as matching needs; the rest for the few that match
# (reading all of it for every process was most of the host probe's CPU time).
_MATCH_ATTRS = ["pid", "name", "cmdline"]
_DETAIL_ATTRS = ["status", "create_time", "memory_info", "cpu_times"]


class ProcessProbe:
    """Table ``process``, rows {name} per ProcessWatch: ``running`` (0/1), ``count``,
    ``rss_bytes`` and ``cpu_pct`` (share of the whole machine, 0..100; from the second
    sight of every matching process on).

    Events ``process_start`` / ``process_stop`` when a watch goes from no matching process
    to some or back; a restart between two cycles (every pid replaced) gives both. The first
    cycle only sets the baseline.
    """

    name = "processes"

    def __init__(
        self,
        watches: Sequence[ProcessWatch],
        clock_s: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = wall_now,
    ) -> None:
        self._watches = list(watches)
        self._clock_s = clock_s
        self._now = now
        self._cpu_count = psutil.cpu_count() or 1
        self._cpu_rates = CounterRates()
        self._previous_pids: dict[str, set[int]] | None = None

    def collect(self) -> ProbeReading:
        if not self._watches:
            return ProbeReading()
        candidates = [
            p
            for p in psutil.process_iter(_MATCH_ATTRS)
            if any(matches(w, p.info) for w in self._watches)
        ]
        infos = [i for i in map(_with_details, candidates) if i is not None]
        infos = [i for i in infos if i["status"] != psutil.STATUS_ZOMBIE]
        matched = {w.name: [i for i in infos if matches(w, i)] for w in self._watches}
        cpu_pct = self._cpu_pct_by_pid([i for found in matched.values() for i in found])
        rows = [_row(w, matched[w.name], cpu_pct) for w in self._watches]
        pids = {name: {i["pid"] for i in found} for name, found in matched.items()}
        events = self._events(pids) if self._previous_pids is not None else []
        self._previous_pids = pids
        return ProbeReading(tables={"process": rows}, events=events)

    def _cpu_pct_by_pid(self, infos: list[dict[str, Any]]) -> dict[int, float]:
        cpu_s: dict[tuple[str, str], float] = {}
        for info in infos:
            times = info["cpu_times"]
            if times is not None:
                # pid plus start time, so a reused pid is a new process, not a counter jump.
                cpu_s[(f"{info['pid']}@{info['create_time']}", "cpu_s")] = times.user + times.system
        rates = self._cpu_rates.update(cpu_s, self._clock_s())
        return {
            int(key.split("@")[0]): min(100.0, rate * 100.0 / self._cpu_count)
            for (key, _), rate in rates.items()
        }

    def _events(self, pids: dict[str, set[int]]) -> list[Event]:
        assert self._previous_pids is not None
        events: list[Event] = []
        for watch in self._watches:
            before, after = self._previous_pids.get(watch.name, set()), pids[watch.name]
            if before and not after & before:
                events.append(self._event(watch, "process_stop", "stopped", len(after)))
            if after and not before & after:
                events.append(self._event(watch, "process_start", "started", len(after)))
        return events

    def _event(self, watch: ProcessWatch, kind: str, verb: str, count: int) -> Event:
        return Event(
            device="host",
            type=kind,
            text=f"process {watch.name} ({watch.match}) {verb}",
            attrs={"process": watch.name, "count": float(count), "required": float(watch.required)},
            at=self._now(),
        )


def _with_details(process: psutil.Process) -> dict[str, Any] | None:
    """The process's match attributes plus the details; None if it has gone meanwhile."""
    try:
        return {**process.info, **process.as_dict(_DETAIL_ATTRS)}
    except psutil.NoSuchProcess:
        return None


def matches(watch: ProcessWatch, info: dict[str, Any]) -> bool:
    """A process matches by its name (case-insensitive) or a substring of its command line."""
    name = info["name"] or ""
    if name.lower() == watch.match.lower():
        return True
    cmdline = info["cmdline"] or []
    return watch.match in " ".join(cmdline)


def _row(watch: ProcessWatch, found: list[dict[str, Any]], cpu_pct: dict[int, float]) -> TableRow:
    rss_bytes = sum(i["memory_info"].rss for i in found if i["memory_info"] is not None)
    metrics = {
        "running": float(bool(found)),
        "count": float(len(found)),
        "rss_bytes": float(rss_bytes),
    }
    if all(i["pid"] in cpu_pct for i in found):
        metrics["cpu_pct"] = min(100.0, sum(cpu_pct[i["pid"]] for i in found))
    return TableRow(labels={"name": watch.name}, metrics=metrics)
