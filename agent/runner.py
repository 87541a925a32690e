"""The runner: the agent's policy. Every ``interval_s`` it measures the PC and the devices,
spools one MetricsMessage (plus an EventsMessage when something happened) and wakes the
publisher; it keeps the retained inventory current and stops cleanly on request.

A reloaded configuration (``reconfigure``) is switched to between two cycles: the spool,
its sequence numbers and the counters carry on; the broker connection is kept unless the
new file changes how the broker is reached.

Time comes from an injected monotonic clock and sleep, so tests run many cycles at once.
Failures of a part (the SNMP poller, the spool's disk) are logged once and worked around:
a spool that cannot be opened or written is replaced by one in memory, so a full disk,
itself a fault worth reporting, never stops the reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

from roomwatch.agent import __version__, wire
from roomwatch.agent.checks import DeviceChecker, merge_samples
from roomwatch.agent.config import AgentConfig, SpoolConfig
from roomwatch.agent.errors import AgentError, SpoolError
from roomwatch.agent.host import HOST_DEVICE, HostProbe
from roomwatch.agent.publisher import Publisher
from roomwatch.agent.selfhealth import AgentCounters, FailureLog
from roomwatch.agent.spool import SPOOL_FILE, Spool, SpoolCorruptError, open_in_memory

log = logging.getLogger(__name__)

IDENTIFY_EVERY_S = 3600.0  # re-read device identities (firmware after an update) this often
STALL_GRACE_S = 60.0  # a cycle may overrun its interval by this much before the loop counts as hung
_MEMORY_SPOOL_MAX_BYTES = 16 * 1024 * 1024


class DevicePoller(Protocol):
    """What the runner needs from the SNMP part (agent.snmp.poller.SnmpPoller)."""

    async def poll_all(self, deadline_s: float | None = None) -> list[wire.DeviceSample]: ...

    async def identify(self) -> list[wire.DeviceInfo]: ...

    @property
    def malformed_replies(self) -> int:
        """Replies dropped because they could not be parsed, since the start."""
        ...

    @property
    def odd_values(self) -> int:
        """Values of a type the agent cannot use, read as absent, since the start."""
        ...

    def close(self) -> None: ...


class TrapSource(Protocol):
    """What the runner needs from the trap listener (agent.snmp.traps.TrapListener)."""

    async def start(self) -> None: ...

    async def next_batch(self) -> list[wire.Event]: ...

    def take_pending(self) -> list[wire.Event]: ...

    def counters(self) -> dict[str, int]: ...

    async def reconfigure(self, config: AgentConfig, poller: DevicePoller | None) -> None: ...

    def close(self) -> None: ...


Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=wire.Envelope)


class Runner:
    """Runs poll cycles until stopped; owns intervals, fallbacks and the inventory."""

    def __init__(
        self,
        config: AgentConfig,
        spool: Spool,
        publisher: Publisher,
        host_probe: HostProbe | None,
        poller: DevicePoller | None = None,
        *,
        traps: TrapSource | None = None,
        clock_s: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
        now: Callable[[], datetime] = wire.now,
    ) -> None:
        self._traps = traps
        self._config = config
        self._spool = spool
        self._publisher = publisher
        self._host_probe = host_probe
        self._poller = poller
        self._checks = DeviceChecker(config.devices)
        self._clock_s = clock_s
        self._sleep = sleep
        self._now = now
        self._failures = FailureLog(log)
        self.counters = AgentCounters()
        self._inventory_devices: list[wire.DeviceInfo] | None = None
        self._identified_at_s: float | None = None
        self._unreachable: set[str] = set()
        self._cycle_lock = asyncio.Lock()
        self.started = asyncio.Event()
        """Set once the first cycle is spooled (the service is then ready)."""
        self.last_progress_s = clock_s()

    @property
    def config(self) -> AgentConfig:
        return self._config

    @property
    def spool(self) -> Spool:
        return self._spool

    @property
    def publisher(self) -> Publisher:
        return self._publisher

    def progressing(self) -> bool:
        """False when no cycle ended for two intervals plus a grace period: the loop hangs."""
        limit_s = 2 * self._config.interval_s + STALL_GRACE_S
        return self._clock_s() - self.last_progress_s < limit_s

    async def run(self, stop: asyncio.Event, max_cycles: int | None = None) -> None:
        """Publish, poll every ``interval_s`` until ``stop`` is set, then shut down cleanly."""
        config = self._config
        log.info(
            "agent %s %s starting: %d devices every %g s, broker %s, spool %s",
            config.agent_id,
            __version__,
            len(config.devices),
            config.interval_s,
            self._publisher.broker,
            self._spool.location,
        )
        self._publisher.start()
        forwarding = await self._start_traps()
        try:
            next_due_s = self._clock_s()
            while not stop.is_set() and (max_cycles is None or self.counters.cycles < max_cycles):
                await self.run_cycle()
                self.started.set()
                next_due_s = _next_due(next_due_s, self._config.interval_s, self._clock_s())
                await self._wait(next_due_s - self._clock_s(), stop)
        finally:
            await self._stop_traps(forwarding)
            await asyncio.to_thread(self._shut_down, "stopped")

    async def run_cycle(self) -> wire.MetricsMessage:
        """One poll cycle: measure, spool, wake the publisher; returns what was spooled."""
        async with self._cycle_lock:
            message = await self._cycle()
        self.last_progress_s = self._clock_s()
        return message

    async def reconfigure(
        self,
        config: AgentConfig,
        host_probe: HostProbe | None,
        poller: DevicePoller | None,
        publisher: Publisher | None = None,
    ) -> None:
        """Switch to a reloaded ``config`` between two cycles, with parts built from it.

        ``publisher`` replaces the current one when the broker is reached differently
        (``agent.publisher.needs_new_connection``); otherwise the connection is kept and
        only credentials and rates change. Identity (agent id, state dir) must not change:
        the caller checks that before building anything.
        """
        async with self._cycle_lock:
            old_poller, old_publisher = self._poller, self._publisher
            self._config, self._host_probe, self._poller = config, host_probe, poller
            self._checks = DeviceChecker(config.devices)
            limits = config.spool if self._spool.persistent else _memory_spool_config(config)
            self._spool.reconfigure(limits)
            if publisher is None:
                await asyncio.to_thread(old_publisher.reconfigure, config)
            else:
                publisher.adopt_counters(old_publisher)
                await asyncio.to_thread(old_publisher.stop, "reconfiguring", announce_offline=False)
                publisher.use_spool(self._spool)
                self._publisher = publisher
                publisher.start()
            self._identified_at_s = None  # identify with the new device list next cycle
            self._inventory_devices = None  # and publish the inventory again
        if self._traps is not None:
            await self._traps.reconfigure(config, poller)
        if old_poller is not None and old_poller is not poller:
            old_poller.close()

    def health_snapshot(self) -> dict[str, float]:
        """The agent's own counters as they are now, for the local ``/metrics`` endpoint."""
        metrics = dict(self._agent_sample().metrics)
        metrics["connected"] = float(self._publisher.connected)
        return metrics

    async def _cycle(self) -> wire.MetricsMessage:
        ts = self._now()
        started_s = self._clock_s()
        host, devices = await asyncio.gather(self._collect_host(), self._poll_devices())
        self.counters.cycles += 1
        self.counters.cycle_duration_ms = (self._clock_s() - started_s) * 1000.0
        samples = [*host, *devices, self._agent_sample()]
        message = self._spool_message(
            wire.Kind.METRICS,
            lambda seq: wire.MetricsMessage(
                agent=self._config.agent_id,
                seq=seq,
                ts=ts,
                interval_s=self._config.interval_s,
                devices=samples,
            ),
        )
        self._spool_events()
        self._publisher.notify()
        # After the metrics are on their way: identifying waits for every device that is
        # still down, and a fault must not wait for that (bench/detection_latency.py).
        await self._refresh_inventory_if_due(devices)
        return message

    # -- measuring ---------------------------------------------------------------------

    async def _collect_host(self) -> list[wire.DeviceSample]:
        if self._host_probe is None:
            return []
        try:
            sample = await asyncio.to_thread(self._host_probe.collect)  # psutil blocks
        except Exception as exc:  # each probe is guarded; this is the last line of defence
            self._failures.failed("host probe", f"{type(exc).__name__}: {exc}")
            return []
        self._failures.ok("host probe")
        return [sample]

    async def _poll_devices(self) -> list[wire.DeviceSample]:
        """SNMP and the non-SNMP checks side by side; one sample per device."""
        snmp, checks = await asyncio.gather(self._poll_snmp(), self._run_checks())
        samples = merge_samples(snmp, checks)
        self.counters.device_timeouts += sum(1 for s in samples if not s.reachable)
        return samples

    async def _poll_snmp(self) -> list[wire.DeviceSample]:
        if self._poller is None:
            return []
        try:
            samples = await self._poller.poll_all(deadline_s=self._config.interval_s)
        except Exception as exc:  # the poller's bug must not stop host reports
            self._failures.failed("SNMP poller", f"{type(exc).__name__}: {exc}")
            return []
        self._failures.ok("SNMP poller")
        self.counters.snmp_malformed_replies = self._poller.malformed_replies
        self.counters.snmp_odd_values = self._poller.odd_values
        return samples

    async def _run_checks(self) -> list[wire.DeviceSample]:
        try:
            samples = await self._checks.poll_all(deadline_s=self._config.interval_s)
        except Exception as exc:  # as for the poller: the host report goes on
            self._failures.failed("device checks", f"{type(exc).__name__}: {exc}")
            return []
        self._failures.ok("device checks")
        return samples

    def _agent_sample(self) -> wire.DeviceSample:
        try:
            stats = self._spool.stats()
        except SpoolError as exc:
            self._failures.failed("spool stats", exc)
        else:
            self.counters.spool_depth, self.counters.spool_bytes = stats.depth, stats.bytes
            self.counters.spool_dropped = stats.dropped
        published = self._publisher.counters()
        self.counters.published = published.published
        self.counters.publish_failures = published.publish_failures
        self.counters.reconnects = published.reconnects
        self.counters.spool_in_memory = int(not self._spool.persistent)
        if self._traps is not None:
            for name, value in self._traps.counters().items():
                setattr(self.counters, name, value)
        return self.counters.to_sample()

    # -- spooling ----------------------------------------------------------------------

    def _spool_message(self, kind: wire.Kind, build: Callable[[int], M]) -> M:
        built: list[M] = []

        def payload(seq: int) -> bytes:
            built.append(build(seq))
            return wire.encode(built[-1])

        try:
            self._spool.append(kind.value, payload)
        except SpoolError as exc:
            self._fall_back_to_memory(exc)
            built.clear()
            self._spool.append(kind.value, payload)
        return built[-1]

    def _spool_events(self) -> None:
        events = self._host_probe.take_events() if self._host_probe else []
        if events:
            ts = self._now()
            self._spool_message(
                wire.Kind.EVENTS,
                lambda seq: wire.EventsMessage(
                    agent=self._config.agent_id, seq=seq, ts=ts, events=events
                ),
            )

    def _fall_back_to_memory(self, exc: SpoolError) -> None:
        log.error("%s; keeping messages in memory until the agent restarts", exc)
        failed, self._spool = self._spool, open_in_memory(_memory_spool_config(self._config))
        with contextlib.suppress(SpoolError):  # a spool that cannot be read: the clock it is
            self._spool.continue_after(failed.last_seq())
        self._publisher.use_spool(self._spool)
        with contextlib.suppress(SpoolError):
            failed.close()  # what it holds stays on disk for the next start

    # -- traps -------------------------------------------------------------------------

    async def _start_traps(self) -> asyncio.Task[None] | None:
        if self._traps is None:
            return None
        try:
            await self._traps.start()
        except AgentError as exc:  # e.g. the port is taken: the metrics go on without traps
            log.error("%s; running without traps", exc)
            return None
        return asyncio.create_task(self._forward_traps(), name="roomwatch-traps")

    async def _forward_traps(self) -> None:
        """Spool each batch of trap events as one EventsMessage and wake the publisher."""
        assert self._traps is not None
        while True:
            events = await self._traps.next_batch()
            try:
                self._spool_trap_events(events)
            except Exception as exc:  # keep listening; the next batch may get through
                self._failures.failed("trap events", f"{type(exc).__name__}: {exc}")
            else:
                self._failures.ok("trap events")

    def _spool_trap_events(self, events: list[wire.Event]) -> None:
        if not events:
            return
        ts = self._now()
        self._spool_message(
            wire.Kind.EVENTS,
            lambda seq: wire.EventsMessage(
                agent=self._config.agent_id, seq=seq, ts=ts, events=events
            ),
        )
        self._publisher.notify()

    async def _stop_traps(self, forwarding: asyncio.Task[None] | None) -> None:
        if forwarding is not None:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarding
        if self._traps is not None:
            with contextlib.suppress(Exception):  # stopping goes on whatever happens here
                self._spool_trap_events(self._traps.take_pending())
            self._traps.close()

    # -- inventory ---------------------------------------------------------------------

    async def _refresh_inventory_if_due(self, samples: list[wire.DeviceSample]) -> None:
        back = {s.device for s in samples if s.reachable} & self._unreachable
        self._unreachable = {s.device for s in samples if not s.reachable}
        stale = (
            self._identified_at_s is None
            or self._clock_s() - self._identified_at_s >= IDENTIFY_EVERY_S
        )
        if stale or back:  # a device that comes back may be a swapped unit
            await self.refresh_inventory()

    async def refresh_inventory(self) -> None:
        """Identify the devices; publish the retained inventory if anything changed."""
        self._identified_at_s = self._clock_s()
        devices = [_host_info(), *await self._identify_devices()]
        if devices == self._inventory_devices:
            return
        self._inventory_devices = devices
        config = self._config
        hostname = socket.gethostname()
        self._publisher.publish_inventory(
            lambda seq: wire.InventoryMessage(
                agent=config.agent_id,
                seq=seq,
                ts=self._now(),
                agent_version=__version__,
                hostname=hostname,
                site_hint=config.site,
                room_hint=config.room,
                devices=devices,
            )
        )

    async def _identify_devices(self) -> list[wire.DeviceInfo]:
        """Every device: as SNMP identified it, else as configured (devices watched by
        checks only, or SNMP identification failing)."""
        configured = _configured_devices(self._config)
        if self._poller is None:
            return configured
        try:
            found = await asyncio.wait_for(self._poller.identify(), self._config.interval_s)
        except Exception as exc:
            self._failures.failed("SNMP identify", f"{type(exc).__name__}: {exc}")
            return configured
        self._failures.ok("SNMP identify")
        identified = {info.device for info in found}
        return [*found, *(info for info in configured if info.device not in identified)]

    # -- waiting and stopping ----------------------------------------------------------

    async def _wait(self, delay_s: float, stop: asyncio.Event) -> None:
        if self._sleep is not None:
            await self._sleep(max(0.0, delay_s))
            return
        if delay_s > 0:
            with contextlib.suppress(TimeoutError):  # the normal end of a wait: time is up
                await asyncio.wait_for(stop.wait(), delay_s)

    def _shut_down(self, reason: str) -> None:
        self._publisher.stop(reason)
        if self._poller is not None:
            self._poller.close()
        try:
            left = self._spool.stats().depth
        except SpoolError:
            left = -1
        self._spool.close()
        log.info(
            "agent %s %s after %d cycles; %d messages kept for the next start",
            self._config.agent_id,
            reason,
            self.counters.cycles,
            left,
        )


def _next_due(previous_due_s: float, interval_s: float, now_s: float) -> float:
    """The next cycle start on the interval grid; a late cycle skips ahead, never bursts."""
    due_s = previous_due_s + interval_s
    if due_s <= now_s:
        missed = int((now_s - due_s) // interval_s) + 1
        due_s += missed * interval_s
    return due_s


def _host_info() -> wire.DeviceInfo:
    # The CPU architecture (x86_64) is no model: it would have replaced the PC's model in
    # the inventory and listed "x86_64" in the spare stock. It goes with the OS description.
    system = (platform.system(), platform.release(), platform.machine())
    return wire.DeviceInfo(
        device=HOST_DEVICE,
        kind=HOST_DEVICE,
        sys_descr=" ".join(part for part in system if part) or None,
    )


def _configured_devices(config: AgentConfig) -> list[wire.DeviceInfo]:
    return [
        wire.DeviceInfo(
            device=d.id,
            kind=d.kind,
            address=d.address,
            profile=d.profile,
            model=d.model,
            parent=d.parent,
        )
        for d in config.devices
    ]


def _memory_spool_config(config: AgentConfig) -> SpoolConfig:
    limited = min(config.spool.max_bytes, _MEMORY_SPOOL_MAX_BYTES)
    return config.spool.model_copy(update={"max_bytes": limited})


def open_spool(config: AgentConfig) -> Spool:
    """The spool in ``state_dir``; a damaged file is moved aside, an unusable disk gives a
    spool in memory. Never raises: the agent must report even when its disk cannot."""
    try:
        try:
            return Spool.open(config.state_dir, config.spool)
        except SpoolCorruptError as exc:
            moved = _quarantine(config.state_dir / SPOOL_FILE)
            log.error("%s; moved it to %s and starting an empty spool", exc, moved)
            return Spool.open(config.state_dir, config.spool)
    except SpoolError as exc:
        log.error("%s; keeping messages in memory until the agent restarts", exc)
        return open_in_memory(_memory_spool_config(config))


def _quarantine(path: Path) -> Path:
    suffix = time.strftime(".corrupt-%Y%m%dT%H%M%S")
    for extra in ("", "-wal", "-shm"):
        source = path.with_name(path.name + extra)
        if source.exists():
            source.replace(source.with_name(path.name + suffix + extra))
    return path.with_name(path.name + suffix)
