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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from agent.config import DeviceConfig, SnmpConfig
from agent.errors import ConfigError
from agent.snmp.client import Counter, SnmpClient, SnmpError, SnmpTarget, SnmpValue
from agent.snmp.profile import MetricSpec, Profile, ProfileRegistry, TableSpec
from agent.wire import DeviceInfo, DeviceSample, TableRow

log = logging.getLogger(__name__)

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
# A whole device poll (several requests) may take this many request budgets at most.
DEADLINE_IN_REQUEST_BUDGETS = 3
_LABEL_MAX_CHARS = 128
Lookup = Callable[[str], SnmpValue | None]


@dataclass
class PollerStats:
    """The poller's own health counters, cumulative since start."""

    polls: int = 0
    timeouts: int = 0
    failures: int = 0


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


class CounterRates:
    """Per-second rates from successive counter readings; wraps counted, resets dropped."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Counter, float]] = {}
        self._seen: set[str] = set()

    def rate(self, key: str, counter: Counter, now_s: float) -> float | None:
        """Rate since the last reading of ``key``; None on first sight or a reset."""
        previous = self._last.get(key)
        self._last[key] = (counter, now_s)
        self._seen.add(key)
        if previous is None:
            return None
        last, then_s = previous
        elapsed_s = now_s - then_s
        if elapsed_s <= 0 or last.bits != counter.bits:
            return None
        delta = counter.value - last.value
        if delta < 0:
            # A 32-bit counter that went down wrapped if the wrapped step is plausible (under
            # half its range); otherwise, and always for 64-bit counters, the device reset it.
            delta += 2**counter.bits
            if counter.bits >= 64 or delta >= 2 ** (counter.bits - 1):
                return None
        return delta / elapsed_s

    def forget_unseen(self) -> None:
        """Drop readings not refreshed since the last call (rows that went away)."""
        self._last = {k: v for k, v in self._last.items() if k in self._seen}
        self._seen = set()

    def clear(self) -> None:
        self._last.clear()
        self._seen.clear()


@dataclass
class _DeviceState:
    config: DeviceConfig
    target: SnmpTarget
    identity: DeviceIdentity | None = None
    up: bool | None = None
    uptime_ticks: int | None = None
    rates: CounterRates = field(default_factory=CounterRates)

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
        self._client = SnmpClient(max_repetitions=config.max_repetitions)
        self._states = [self._state_for(device) for device in devices]
        self.stats = PollerStats()

    async def poll_all(self) -> list[DeviceSample]:
        """One sample per configured device, in configuration order."""
        slots = asyncio.Semaphore(self._config.concurrency)
        return list(await asyncio.gather(*(self._poll(s, slots) for s in self._states)))

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
            try:
                sample = await asyncio.wait_for(self._read(state), deadline_s)
            except (SnmpError, TimeoutError) as exc:
                reason = exc.reason if isinstance(exc, SnmpError) else "timeout"
                return self._failed(state, reason)
            except Exception:
                if state.up is not False:
                    log.exception("device %s: polling failed", state.config.id)
                return self._failed(state, "internal error", logged=True)
        if state.up is False:
            log.info("device %s answers again", state.config.id)
        state.up = True
        return sample

    def _failed(self, state: _DeviceState, reason: str, logged: bool = False) -> DeviceSample:
        self.stats.timeouts += reason == "timeout"
        self.stats.failures += 1
        if state.up is not False and not logged:
            log.warning("device %s (%s) not answering: %s", state.config.id, _address(state), reason)
        state.up = False
        state.went_down()
        return DeviceSample(
            device=state.config.id,
            kind=state.config.kind,
            model=state.config.model,
            reachable=False,
            error=reason,
        )

    async def _read(self, state: _DeviceState) -> DeviceSample:
        if state.identity is None:
            state.identity = await self._read_identity(state)
        profile, target = state.identity.profile, state.target
        scalar_oids = [SYS_UPTIME, *_scalar_oids(profile)]
        started_s = time.perf_counter()
        values = await self._client.get(target, scalar_oids)
        requests = -(-len(scalar_oids) // self._client.oids_per_get)
        rtt_ms = (time.perf_counter() - started_s) * 1000 / requests
        now_s = self._clock()
        self._notice_restart(state, values.get(SYS_UPTIME))
        metrics = _scalar_metrics(profile, values.get, state.rates, now_s)
        metrics.update(await self._aggregate_metrics(state, profile))
        tables = {t.name: await self._table_rows(state, t, now_s) for t in profile.tables}
        state.rates.forget_unseen()
        return DeviceSample(
            device=state.config.id,
            kind=state.config.kind,
            model=state.config.model or state.identity.model,
            reachable=True,
            rtt_ms=rtt_ms,
            metrics=metrics,
            tables=tables,
        )

    async def _read_identity(self, state: _DeviceState) -> DeviceIdentity:
        system = await self._client.get(state.target, [SYS_DESCR, SYS_OBJECT_ID, SYS_NAME])
        descr, object_id = _text(system.get(SYS_DESCR)), _text(system.get(SYS_OBJECT_ID))
        if state.config.profile:
            profile = self._registry.get(state.config.profile)
        else:
            profile = self._registry.select(object_id or "", descr or "", state.config.kind)
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

    def _notice_restart(self, state: _DeviceState, uptime: SnmpValue | None) -> None:
        if not isinstance(uptime, int):
            return
        if state.uptime_ticks is not None and uptime < state.uptime_ticks:
            state.rates.clear()  # the device restarted: its counters started again from 0
        state.uptime_ticks = uptime

    async def _aggregate_metrics(self, state: _DeviceState, profile: Profile) -> dict[str, float]:
        specs = [m for m in profile.metrics if m.aggregate]
        if not specs:
            return {}
        columns = await self._client.walk_columns(state.target, [m.oid for m in specs])
        found: dict[str, float] = {}
        for spec in specs:
            numbers = [spec.number(raw, spec.scale) for raw in columns[spec.oid].values()]
            value = _combine(spec, [n for n in numbers if n is not None])
            if value is not None:
                found[spec.name] = value
        return found

    async def _table_rows(
        self, state: _DeviceState, table: TableSpec, now_s: float
    ) -> list[TableRow]:
        columns = await self._client.walk_columns(state.target, _table_columns(table))
        missing = [c for c in _fallback_columns(table) if not columns.get(c[0])]
        if missing:
            columns.update(await self._client.walk_columns(state.target, [c[1] for c in missing]))
        indexes = {i for m in table.metrics for i in columns.get(m.oid, {})}
        indexes |= {i for m in table.metrics if m.fallback for i in columns.get(m.fallback.oid, {})}
        rows = []
        for index in sorted(indexes, key=_index_order):
            row = _table_row(table, index, columns, state.rates, now_s)
            if row is not None:
                rows.append(row)
        return rows

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


def _scalar_oids(profile: Profile) -> list[str]:
    oids: list[str] = []
    for spec in profile.metrics:
        if not spec.aggregate:
            oids.extend(_source_oids(spec))
    return oids


def _source_oids(spec: MetricSpec) -> list[str]:
    extra = [spec.fallback.oid] if spec.fallback else []
    operands = [o for o in (spec.multiply_by, spec.divide_by) if o]
    return [spec.oid, *extra, *operands]


def _table_columns(table: TableSpec) -> list[str]:
    columns = [label.oid for label in table.labels]
    for spec in table.metrics:
        columns.extend(o for o in _source_oids(spec) if not spec.fallback or o != spec.fallback.oid)
    return list(dict.fromkeys(columns))


def _fallback_columns(table: TableSpec) -> list[tuple[str, str]]:
    """(primary column, fallback column) pairs, walked only when the primary is empty."""
    pairs = [(lab.oid, lab.fallback_oid) for lab in table.labels if lab.fallback_oid]
    pairs += [(m.oid, m.fallback.oid) for m in table.metrics if m.fallback]
    return pairs


def _scalar_metrics(
    profile: Profile, lookup: Lookup, rates: CounterRates, now_s: float
) -> dict[str, float]:
    found = {}
    for spec in profile.metrics:
        if spec.aggregate:
            continue
        value = _metric_value(spec, lookup, rates, now_s, key_suffix="")
        if value is not None:
            found[spec.name] = value
    return found


def _table_row(
    table: TableSpec,
    index: str,
    columns: Mapping[str, Mapping[str, SnmpValue]],
    rates: CounterRates,
    now_s: float,
) -> TableRow | None:
    def lookup(column: str) -> SnmpValue | None:
        return columns.get(column, {}).get(index)

    metrics = {}
    for spec in table.metrics:
        value = _metric_value(spec, lookup, rates, now_s, key_suffix=f".{index}")
        if value is not None:
            metrics[spec.name] = value
    if not metrics:
        return None
    labels = {table.index_label: index} if table.index_label else {}
    for label in table.labels:
        raw = lookup(label.oid)
        if raw is None and label.fallback_oid:
            raw = lookup(label.fallback_oid)
        if raw is not None:
            labels[label.name] = str(raw)[:_LABEL_MAX_CHARS]
    return TableRow(labels=labels, metrics=metrics)


def _metric_value(
    spec: MetricSpec, lookup: Lookup, rates: CounterRates, now_s: float, key_suffix: str
) -> float | None:
    """One metric from the values read: fallback source, rate or number, then operands."""
    oid, scale, raw = spec.oid, spec.scale, lookup(spec.oid)
    if raw is None and spec.fallback:
        oid, scale, raw = spec.fallback.oid, spec.fallback.scale, lookup(spec.fallback.oid)
    if raw is None:
        return None
    if spec.type == "counter":
        counter = raw if isinstance(raw, Counter) else Counter(raw, 64) if isinstance(raw, int) else None
        per_s = rates.rate(f"{spec.name}@{oid}{key_suffix}", counter, now_s) if counter else None
        value = None if per_s is None else per_s * scale
    else:
        value = spec.number(raw, scale)
    return _apply_operands(spec, value, lookup)


def _apply_operands(spec: MetricSpec, value: float | None, lookup: Lookup) -> float | None:
    if value is None:
        return None
    if spec.multiply_by:
        factor = _plain_number(lookup(spec.multiply_by))
        value = None if factor is None else value * factor
    if spec.divide_by and value is not None:
        divisor = _plain_number(lookup(spec.divide_by))
        value = None if not divisor else value / divisor
    return value


def _plain_number(raw: SnmpValue | None) -> float | None:
    if isinstance(raw, Counter):
        return float(raw.value)
    return float(raw) if isinstance(raw, int) else None


def _combine(spec: MetricSpec, numbers: list[float]) -> float | None:
    if not numbers:
        return None
    if spec.aggregate == "sum":
        return sum(numbers)
    if spec.aggregate == "min":
        return min(numbers)
    if spec.aggregate == "max":
        return max(numbers)
    return sum(numbers) / len(numbers)


def _index_order(index: str) -> tuple[int, ...]:
    return tuple(int(part) for part in index.split(".") if part.isdigit())


def _text(value: SnmpValue | None) -> str | None:
    return None if value is None or isinstance(value, Counter) else str(value)


def _address(state: _DeviceState) -> str:
    host, port = state.config.address, state.config.port
    if port == 161:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
