"""Poll every configured device concurrently and turn what it serves into ``DeviceSample``s.

Each device is polled in its own task with its own deadline, so a dead, slow or garbage
device never holds up the others. The poller keeps what must survive between polls: the
profile chosen per device (re-chosen after a device was unreachable) and the last counter
readings, from which it computes per-second rates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from roomwatch.agent.config import DeviceConfig, SnmpConfig
from roomwatch.agent.errors import ConfigError
from roomwatch.agent.snmp.client import (
    Counter,
    SnmpClient,
    SnmpError,
    SnmpTarget,
    SnmpValue,
    TableCutOff,
)
from roomwatch.agent.snmp.profile import Profile, ProfileRegistry, TableSpec
from roomwatch.agent.snmp.readings import (
    CounterRates,
    aggregate_columns,
    aggregate_metrics,
    fallback_columns,
    finite_only,
    scalar_metrics,
    scalar_oids,
    table_columns,
    table_rows,
)
from roomwatch.agent.wire import DeviceInfo, DeviceSample, TableRow

log = logging.getLogger(__name__)

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
# A whole device poll (several requests) may take this many request budgets at most.
DEADLINE_IN_REQUEST_BUDGETS = 3
TABLE_TRUNCATED = "table_truncated"  # metric: 1 when a walk was cut (the sample's error says why)


@dataclass
class PollerStats:
    """The poller's own health counters, cumulative since start."""

    polls: int = 0
    timeouts: int = 0
    failures: int = 0
    malformed_replies: int = 0  # datagrams that could not be parsed, dropped
    # values of a type we cannot use (NsapAddress, ...) or numbers that are not finite (NaN,
    # infinity), read as absent
    odd_values: int = 0


@dataclass(frozen=True)
class DeviceIdentity:
    """What identification found out about a device, and the profile chosen for it."""

    profile: Profile
    sys_descr: str | None = None
    sys_object_id: str | None = None
    sys_name: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None


@dataclass
class _DeviceState:
    config: DeviceConfig
    target: SnmpTarget
    identity: DeviceIdentity | None = None
    up: bool | None = None
    uptime_ticks: int | None = None
    rates: CounterRates = field(default_factory=CounterRates)
    walk_problem: str | None = None  # why a table walk was cut off in the last poll
    walk_rows: dict[tuple[str, ...], int] = field(default_factory=dict)  # rows last found
    walks_until: float | None = None  # event loop time by which this poll's walks must end

    def went_down(self) -> None:
        self.identity, self.uptime_ticks = None, None
        self.rates.clear()


class SnmpPoller:
    """Polls the configured SNMP devices; one ``DeviceSample`` per device per cycle."""

    def __init__(
        self,
        config: SnmpConfig,
        devices: list[DeviceConfig],
        registry: ProfileRegistry,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._registry = registry
        self._clock = clock
        self.stats = PollerStats()
        self._client = SnmpClient(
            max_repetitions=config.max_repetitions,
            max_rows=config.max_rows_per_table,
            on_malformed=self._count_malformed,
            on_odd_value=self._count_odd_value,
        )
        self._states = [self._state_for(device) for device in devices]

    async def poll_all(self, deadline_s: float | None = None) -> list[DeviceSample]:
        """One sample per configured device, in configuration order.

        With ``deadline_s``, devices still being polled then are given up and reported as
        unreachable ("timeout"); the others' samples are returned as they are.
        """
        slots = asyncio.Semaphore(self._config.concurrency)
        tasks = [asyncio.ensure_future(self._poll(s, slots)) for s in self._states]
        if not tasks:
            return []
        _done, late = await asyncio.wait(tasks, timeout=deadline_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        return [
            self._failed(state, "timeout") if task in late else task.result()
            for state, task in zip(self._states, tasks, strict=True)
        ]

    async def poll_as_completed(self) -> AsyncIterator[DeviceSample]:
        """The same samples as ``poll_all``, each as soon as its device is done."""
        slots = asyncio.Semaphore(self._config.concurrency)
        tasks = [asyncio.ensure_future(self._poll(s, slots)) for s in self._states]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    async def identify(self) -> list[DeviceInfo]:
        """Read each device's identity afresh; unreachable ones are listed as configured."""
        slots = asyncio.Semaphore(self._config.concurrency)
        return list(await asyncio.gather(*(self._identify_info(s, slots) for s in self._states)))

    def close(self) -> None:
        self._client.close()

    @property
    def malformed_replies(self) -> int:
        return self.stats.malformed_replies

    def _count_malformed(self) -> None:
        self.stats.malformed_replies += 1

    @property
    def odd_values(self) -> int:
        return self.stats.odd_values

    def _count_odd_value(self) -> None:
        self.stats.odd_values += 1

    def profile_of(self, device_id: str) -> Profile | None:
        """The profile a device was identified with (or is configured with), if known yet."""
        for state in self._states:
            if state.config.id != device_id:
                continue
            if state.identity is not None:
                return state.identity.profile
            return self._registry.get(state.config.profile) if state.config.profile else None
        return None

    def identity_of(self, device_id: str) -> DeviceIdentity | None:
        """What identification found out about a device (None before it answered)."""
        return next((s.identity for s in self._states if s.config.id == device_id), None)

    def _state_for(self, device: DeviceConfig) -> _DeviceState:
        credential = self._config.credentials.get(device.credentials)
        if credential is None:
            raise ConfigError(f"device {device.id!r}: unknown credentials {device.credentials!r}")
        if device.profile is not None:
            self._registry.get(device.profile)  # fails early, naming the known profiles
        target = SnmpTarget(
            host=device.address,
            port=device.port,
            credential=credential,
            timeout_s=device.timeout_s or self._config.timeout_s,
            retries=self._config.retries,
        )
        return _DeviceState(config=device, target=target)

    async def _poll(self, state: _DeviceState, slots: asyncio.Semaphore) -> DeviceSample:
        async with slots:
            self.stats.polls += 1
            deadline_s = state.target.attempt_budget_s * DEADLINE_IN_REQUEST_BUDGETS
            # Walks stop a little before the deadline and keep what they read: a table too
            # long for one poll is reported cut, not the device unreachable.
            walks_until = asyncio.get_running_loop().time() + deadline_s * 0.95
            try:
                sample = await asyncio.wait_for(self._read(state, walks_until), deadline_s)
            except (SnmpError, TimeoutError) as exc:
                reason = exc.reason if isinstance(exc, SnmpError) else "timeout"
                return self._failed(state, reason)
            except Exception:  # a bug or a reply nobody foresaw: this device only
                return self._failed(state, "internal error", with_traceback=True)
        if state.up is False:
            log.info("device %s answers again", state.config.id)
        state.up = True
        return sample

    def _failed(
        self, state: _DeviceState, reason: str, with_traceback: bool = False
    ) -> DeviceSample:
        """The sample of a device that could not be read; logs only when it starts failing."""
        self.stats.timeouts += reason == "timeout"
        self.stats.failures += 1
        if state.up is not False:
            address = _address(state)
            log.warning(
                "device %s (%s) not answering: %s", state.config.id, address, reason,
                exc_info=with_traceback,
            )  # fmt: skip
        state.up = False
        state.went_down()
        return DeviceSample(
            device=state.config.id,
            kind=state.config.kind,
            model=state.config.model,
            reachable=False,
            error=reason,
        )

    async def _read(self, state: _DeviceState, walks_until: float) -> DeviceSample:
        if state.identity is None:
            state.identity = await self._read_identity(state)
        profile, target = state.identity.profile, state.target
        oids = [SYS_UPTIME, *scalar_oids(profile)]
        started_s = time.perf_counter()
        values = await self._client.get(target, oids)
        requests = -(-len(oids) // self._client.oids_per_get)
        rtt_ms = (time.perf_counter() - started_s) * 1000 / requests
        now_s = self._clock()
        self._notice_restart(state, values.get(SYS_UPTIME))
        metrics = scalar_metrics(profile, values.get, state.rates, now_s)
        problems: list[str] = []
        state.walks_until = walks_until
        metrics.update(await self._aggregate_metrics(state, profile, problems))
        tables = {t.name: await self._table_rows(state, t, now_s, problems) for t in profile.tables}
        state.rates.forget_unseen()
        self._note_walk_problems(state, problems)
        if problems:
            metrics[TABLE_TRUNCATED] = 1.0
        metrics, tables, non_finite = finite_only(metrics, tables)
        self.stats.odd_values += non_finite
        return DeviceSample(
            device=state.config.id,
            kind=state.config.kind,
            model=state.config.model or state.identity.model,
            reachable=True,
            rtt_ms=rtt_ms,
            error="; ".join(problems)[:500] or None,
            metrics=metrics,
            tables=tables,
        )

    async def _walk(
        self, state: _DeviceState, columns: list[str], problems: list[str]
    ) -> dict[str, dict[str, SnmpValue]]:
        """The walked columns; a walk cut off keeps the rows read before, and says why."""
        key = tuple(columns)
        try:
            rows = await self._client.walk_columns(
                state.target, columns, state.walk_rows.get(key), state.walks_until
            )
        except TableCutOff as cut:
            problems.append(cut.reason)
            rows = cut.rows
        state.walk_rows[key] = max((len(found) for found in rows.values()), default=0)
        return rows

    def _note_walk_problems(self, state: _DeviceState, problems: list[str]) -> None:
        problem = problems[0] if problems else None
        if problem and state.walk_problem is None:
            log.warning("device %s: %s", state.config.id, problem)
        elif problem is None and state.walk_problem is not None:
            log.info("device %s: table walks complete again", state.config.id)
        state.walk_problem = problem

    async def _read_identity(self, state: _DeviceState) -> DeviceIdentity:
        system = await self._read_system(state)
        descr, object_id = _text(system.get(SYS_DESCR)), _text(system.get(SYS_OBJECT_ID))
        if state.config.profile:
            profile = self._registry.get(state.config.profile)
        else:
            profile = self._registry.select(
                object_id or "", descr or "", state.config.kind, probes=system
            )
        extra_oids = profile.identity_oids()
        extra = await self._client.get(state.target, extra_oids) if extra_oids else {}
        fields = profile.identity
        return DeviceIdentity(
            profile=profile,
            sys_descr=descr,
            sys_object_id=object_id,
            sys_name=_text(system.get(SYS_NAME)),
            vendor=fields.vendor.extract(descr or "", extra) if fields.vendor else None,
            model=fields.model.extract(descr or "", extra) if fields.model else None,
            firmware=fields.firmware.extract(descr or "", extra) if fields.firmware else None,
        )

    async def _read_system(self, state: _DeviceState) -> dict[str, SnmpValue]:
        """sysDescr, sysObjectID, sysName and, unless the profile is configured, every
        profile's probe OID, in one GET (batched when there are many)."""
        system_oids = [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME]
        probes = [] if state.config.profile else self._registry.probe_oids()
        try:
            return await self._client.get(state.target, [*system_oids, *probes])
        except SnmpError as exc:
            if not probes or exc.reason == "timeout":
                raise
        # Some agents refuse a whole GET (noSuchName, genErr) for one OID they do not
        # know, as SNMPv1 did: identify by the system group alone then.
        return await self._client.get(state.target, system_oids)

    def _notice_restart(self, state: _DeviceState, uptime: SnmpValue | None) -> None:
        if not isinstance(uptime, int):
            return
        if state.uptime_ticks is not None and uptime < state.uptime_ticks:
            state.rates.clear()  # the device restarted: its counters started again from 0
        state.uptime_ticks = uptime

    async def _aggregate_metrics(
        self, state: _DeviceState, profile: Profile, problems: list[str]
    ) -> dict[str, float]:
        specs = [m for m in profile.metrics if m.aggregate]
        if not specs:
            return {}
        columns = await self._walk(state, aggregate_columns(specs), problems)
        return aggregate_metrics(specs, columns)

    async def _table_rows(
        self, state: _DeviceState, table: TableSpec, now_s: float, problems: list[str]
    ) -> list[TableRow]:
        columns = await self._walk(state, table_columns(table), problems)
        missing = [
            fallback for primary, fallback in fallback_columns(table) if not columns.get(primary)
        ]
        if missing:
            columns.update(await self._walk(state, missing, problems))
        return table_rows(table, columns, state.rates, now_s)

    async def _identify_info(self, state: _DeviceState, slots: asyncio.Semaphore) -> DeviceInfo:
        async with slots:
            try:
                identity = await asyncio.wait_for(
                    self._read_identity(state), state.target.attempt_budget_s * 2
                )
            except (SnmpError, TimeoutError):
                identity = None
        if identity is not None:
            state.identity = identity
        config = state.config
        return DeviceInfo(
            device=config.id,
            kind=config.kind,
            address=_address(state),
            profile=identity.profile.name if identity else config.profile,
            model=config.model or (identity.model if identity else None),
            vendor=identity.vendor if identity else None,
            firmware=identity.firmware if identity else None,
            sys_descr=identity.sys_descr if identity else None,
            parent=config.parent,
        )


def _text(value: SnmpValue | None) -> str | None:
    return None if value is None or isinstance(value, Counter) else str(value)


def _address(state: _DeviceState) -> str:
    host, port = state.config.address, state.config.port
    if port == 161:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
