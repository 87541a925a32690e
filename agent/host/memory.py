"""Memory and swap use."""

from __future__ import annotations

import psutil

from roomwatch.agent.host.base import ProbeReading


class MemoryProbe:
    """``mem_used_pct``, ``mem_available_bytes`` and ``swap_used_pct`` (0 without swap)."""

    name = "memory"

    def collect(self) -> ProbeReading:
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return ProbeReading(
            metrics={
                "mem_used_pct": float(memory.percent),
                "mem_available_bytes": float(memory.available),
                "swap_used_pct": float(swap.percent) if swap.total else 0.0,
            }
        )
