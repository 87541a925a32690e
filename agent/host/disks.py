"""Disk space per mount point and disk throughput per physical disk."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import psutil

from roomwatch.agent.host.base import CounterRates, ProbeReading, rows_from_rates
from roomwatch.agent.selfhealth import FailureLog
from roomwatch.agent.wire import TableRow

log = logging.getLogger(__name__)

# Read-only images are always "full"; reporting them would open false disk-full faults.
_IGNORED_FSTYPES = frozenset({"squashfs", "iso9660", "udf", "cdfs"})
# Virtual block devices whose throughput says nothing about the recording disk.
_IGNORED_DISK_PREFIXES = ("loop", "ram", "zram")


class DiskUsageProbe:
    """Table ``disk``, rows {mount}: ``used_pct``, ``free_bytes``, ``total_bytes``.

    Watches the configured mount points, or every physical partition when none are set.
    A configured mount that is missing (an unplugged recording disk) has no row, and is
    logged once.
    """

    name = "disks"

    def __init__(self, mounts: Sequence[str] = ()) -> None:
        self._mounts = list(mounts)
        self._failures = FailureLog(log)

    def collect(self) -> ProbeReading:
        rows = []
        for mount in self._mounts or physical_mounts():
            try:
                usage = psutil.disk_usage(mount)
            except OSError as exc:
                self._failures.failed(f"disk {mount}", exc.strerror or exc)
                continue
            self._failures.ok(f"disk {mount}")
            metrics = {
                "used_pct": float(usage.percent),
                "free_bytes": float(usage.free),
                "total_bytes": float(usage.total),
            }
            rows.append(TableRow(labels={"mount": mount[:128]}, metrics=metrics))
        return ProbeReading(tables={"disk": rows})


def physical_mounts() -> list[str]:
    """Mount points of physical partitions, each once, without read-only media images."""
    mounts: list[str] = []
    for part in psutil.disk_partitions(all=False):
        if part.fstype.lower() in _IGNORED_FSTYPES or part.mountpoint in mounts:
            continue
        mounts.append(part.mountpoint)
    return mounts


class DiskIoProbe:
    """Table ``diskio``, rows {disk}: ``read_bytes_per_s``, ``write_bytes_per_s``.

    Rates between two cycles; the first cycle and a counter reset give no row.
    """

    name = "diskio"

    def __init__(self, clock_s: Callable[[], float] = time.monotonic) -> None:
        self._clock_s = clock_s
        self._rates = CounterRates()

    def collect(self) -> ProbeReading:
        per_disk = psutil.disk_io_counters(perdisk=True) or {}
        counters: dict[tuple[str, str], float] = {}
        for disk, io in per_disk.items():
            if disk.startswith(_IGNORED_DISK_PREFIXES):
                continue
            counters[(disk, "read_bytes_per_s")] = float(io.read_bytes)
            counters[(disk, "write_bytes_per_s")] = float(io.write_bytes)
        rates = self._rates.update(counters, self._clock_s())
        return ProbeReading(tables={"diskio": rows_from_rates(rates, "disk")})
