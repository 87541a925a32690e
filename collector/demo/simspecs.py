"""What a simulated SNMP device serves: ``DeviceSpec`` (values by profile metric name),
their encoding into typed raw values by OID, and the specs of the example RoomCam vendor
the tests use (a room's kit of real device families is in ``simkit``).

The encoding reads the same profile YAML as the agent: 41.5 for ``temperature_c`` (scale
0.1) is served as the INTEGER 415, an enum value as the first raw value that maps to it,
a string-with-unit metric as ``"<number> <unit>"`` unless the spec gives the text, and a
value computed from another OID (``used_pct`` = used / size) from that OID's served value.
snmpd's ``override`` has no Counter64, so a counter with a 32-bit ``fallback`` in its
profile (ifHCInOctets -> ifInOctets) is served on the fallback OID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from roomwatch.agent.errors import AgentError
from roomwatch.agent.snmp.client import SetType
from roomwatch.agent.snmp.profile import MetricSpec, Profile, TableSpec

SYS_OIDS = {
    "sys_descr": "1.3.6.1.2.1.1.1.0",
    "sys_object_id": "1.3.6.1.2.1.1.2.0",
    "sys_uptime": "1.3.6.1.2.1.1.3.0",
    "sys_name": "1.3.6.1.2.1.1.5.0",
}
Typed = tuple[SetType, int | str]
Value = float | str


class SimulatorError(AgentError):
    """A simulated device cannot be started, or a value cannot be served."""


@dataclass
class SimRow:
    """One table row: its index, labels and metric values by name, extra raw columns."""

    index: int | str
    labels: dict[str, str] = field(default_factory=dict)
    values: dict[str, Value] = field(default_factory=dict)
    raw: dict[str, Typed] = field(default_factory=dict)  # column OID -> typed value


@dataclass(frozen=True)
class SimUser:
    """An SNMPv3 user the device serves read-only (net-snmp ``createUser`` + ``rouser``).

    Protocol names are the agent's (``sha256``, ``aes``, ...); no ``auth_key`` means
    noAuthNoPriv, no ``priv_key`` authNoPriv.
    """

    username: str
    auth_key: str | None = None
    priv_key: str | None = None
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"

    @property
    def security_level(self) -> str:
        if self.auth_key is None:
            return "noAuthNoPriv"
        return "authPriv" if self.priv_key is not None else "authNoPriv"


@dataclass
class DeviceSpec:
    """What a simulated device is and serves; values by the profile's metric names.

    For a counter the value is the counter's total (e.g. octets so far), not a rate.
    """

    name: str
    kind: str
    profile: str
    sys_descr: str
    sys_object_id: str
    values: dict[str, Value] = field(default_factory=dict)
    tables: dict[str, list[SimRow]] = field(default_factory=dict)
    raw: dict[str, Typed] = field(default_factory=dict)  # instance OID -> typed value
    community: str = "public"
    users: list[SimUser] = field(default_factory=list)  # SNMPv3 users, read-only
    system_group: bool = True  # False: no sysDescr/sysObjectID/sysName/sysUpTime at all


def initial_values(spec: DeviceSpec, profile: Profile) -> dict[str, Typed]:
    """Everything the device serves from the start, by instance OID."""
    system: dict[str, Typed] = {
        SYS_OIDS["sys_descr"]: ("octet_str", spec.sys_descr),
        SYS_OIDS["sys_object_id"]: ("object_id", spec.sys_object_id.lstrip(".")),
        SYS_OIDS["sys_name"]: ("octet_str", spec.name),
        SYS_OIDS["sys_uptime"]: ("timeticks", 360_000),
    }
    served: dict[str, Typed] = {
        **(system if spec.system_group else {}),
        **{oid.lstrip("."): typed for oid, typed in spec.raw.items()},
    }
    served.update(encode(profile, spec.values, served, None, None))
    for table_name, rows in spec.tables.items():
        for row in rows:
            served.update({f"{c.lstrip('.')}.{row.index}": t for c, t in row.raw.items()})
            values = {**row.labels, **row.values}
            served.update(encode(profile, values, served, table_name, row.index))
            served.update(_kept_by_where(_table(profile, table_name), row.index, served))
    return served


def _kept_by_where(
    table: TableSpec, index: int | str, served: Mapping[str, Typed]
) -> dict[str, Typed]:
    """Values of the table's ``where: in`` columns that keep a row (the first listed), for
    the columns a row's ``raw`` does not serve: a simulated disk is a fixed disk."""
    kept: dict[str, Typed] = {}
    for row_filter in table.where:
        oid = f"{row_filter.oid}.{index}"
        if not row_filter.in_ or oid in served:
            continue
        wanted = row_filter.in_[0]
        if isinstance(wanted, int):
            kept[oid] = ("integer", wanted)
        else:
            kept[oid] = ("object_id" if wanted.count(".") > 1 else "octet_str", wanted)
    return kept


def encode(
    profile: Profile,
    values: Mapping[str, Value],
    served: Mapping[str, Typed],
    table_name: str | None,
    index: int | str | None,
) -> dict[str, Typed]:
    """Typed raw values, by instance OID, that make the agent read ``values``."""
    table = _table(profile, table_name) if table_name else None
    specs = {m.name: m for m in (table.metrics if table else profile.metrics)}
    labels = {lab.name: lab.oid for lab in table.labels} if table else {}
    suffix = f".{index}" if table else ""
    encoded: dict[str, Typed] = {}
    for name in [n for n in values if n in labels]:
        encoded[labels[name] + suffix] = ("octet_str", str(values[name]))
    pending = [n for n in values if n not in labels]
    for name in pending:
        if name not in specs:
            known = ", ".join([*labels, *specs])
            raise SimulatorError(f"{profile.name}: no metric {name!r} here (known: {known})")
    while pending:  # values computed from another OID wait until that OID is known
        ready = [n for n in pending if _operands_known(specs[n], suffix, {**served, **encoded})]
        if not ready:
            raise SimulatorError(f"{profile.name}: {pending} need OIDs that are not served")
        for name in ready:
            oid, typed = _encode_metric(specs[name], values[name], suffix, {**served, **encoded})
            if oid in encoded and encoded[oid] != typed:
                raise SimulatorError(
                    f"{profile.name}: {name} disagrees with another value at {oid}"
                )
            encoded[oid] = typed
        pending = [n for n in pending if n not in ready]
    return encoded


def _table(profile: Profile, name: str) -> TableSpec:
    for table in profile.tables:
        if table.name == name:
            return table
    raise SimulatorError(f"{profile.name}: no table {name!r}")


def _operands_known(spec: MetricSpec, suffix: str, served: Mapping[str, Typed]) -> bool:
    return all(o + suffix in served for o in (spec.multiply_by, spec.divide_by) if o)


def _encode_metric(
    spec: MetricSpec, value: Value, suffix: str, served: Mapping[str, Typed]
) -> tuple[str, Typed]:
    oid = spec.oid + (".1" if spec.aggregate else suffix)
    if spec.type == "string":
        text = value if isinstance(value, str) else f"{value:g} {spec.target_unit}"
        return oid, ("octet_str", text)
    if isinstance(value, str):
        raise SimulatorError(f"{spec.name}: expected a number, got {value!r}")
    if spec.type == "enum":
        assert spec.enum is not None
        raws = [raw for raw, mapped in spec.enum.items() if mapped == value]
        if not raws:
            raise SimulatorError(f"{spec.name}: no raw value maps to {value}")
        if isinstance(raws[0], str):  # an enum of texts: the device reports its status as text
            return oid, ("octet_str", raws[0])
        return oid, _typed(oid, raws[0], served)
    if spec.type == "counter":
        if spec.fallback:
            oid = spec.fallback.oid + suffix
        return oid, ("counter", round(value / spec.scale) % 2**32)
    if spec.subtract_from is not None:  # used_pct served as the free percentage it is read from
        value = spec.subtract_from - value
    raw = value / spec.scale
    if spec.multiply_by:
        raw /= _served_number(served[spec.multiply_by + suffix])
    if spec.divide_by:
        raw *= _served_number(served[spec.divide_by + suffix])
    return oid, _typed(oid, round(raw), served)


def _typed(oid: str, raw: int, served: Mapping[str, Typed]) -> Typed:
    if oid in served:  # a SET must keep the type the OID was configured with
        return served[oid][0], raw
    if oid == SYS_OIDS["sys_uptime"]:
        return "timeticks", raw
    return ("integer", raw) if -(2**31) <= raw < 2**31 else ("uinteger", raw)


def _served_number(typed: Typed) -> float:
    value = typed[1]
    if isinstance(value, str) or not value:
        raise SimulatorError(f"cannot compute with the served value {value!r}")
    return float(value)


# Ready-made specs for a recording room's kit, with sensible healthy values.
_RC = "1.3.6.1.4.1.55555"  # the example "RoomCam" vendor tree (agent/profiles/roomcam-*.yaml)
_ALLOC_UNITS = "1.3.6.1.2.1.25.2.3.1.4"  # hrStorageAllocationUnits column


def ptz_camera(name: str = "cam1") -> DeviceSpec:
    return DeviceSpec(
        name=name, kind="camera", profile="roomcam-camera",
        sys_descr="RoomCam PTZ-200 camera, firmware 2.4.1", sys_object_id=f"{_RC}.1.1",
        values={"uptime_s": 86_400, "temperature_c": 41.5, "stream_status": 2,
                "stream_fps": 25, "stream_bitrate_kbps": "4096 Kbps",
                "dropped_frames_per_s": 0, "memory_free_bytes": "512 MB"},
        raw={f"{_RC}.3.1.0": ("octet_str", "PTZ-200"), f"{_RC}.3.2.0": ("octet_str", "2.4.1")},
    )  # fmt: skip


def encoder(name: str = "enc1") -> DeviceSpec:
    return DeviceSpec(
        name=name, kind="encoder", profile="roomcam-encoder",
        sys_descr="RoomCam REC-4K encoder, firmware 3.1.0", sys_object_id=f"{_RC}.1.2",
        values={"uptime_s": 172_800, "temperature_c": 52.0, "stream_status": 2,
                "stream_fps": 30, "stream_bitrate_kbps": "8 Mbps", "dropped_frames_per_s": 0,
                "memory_free_bytes": "1.5 GB", "recording_on": 1, "cpu_pct": 35,
                "processes": 140},
        tables={"storage": [storage_row(1, "/", 32e9, 41), storage_row(2, "/record", 2e12, 55)]},
        raw={f"{_RC}.3.1.0": ("octet_str", "REC-4K"), f"{_RC}.3.2.0": ("octet_str", "3.1.0")},
    )  # fmt: skip


def switch_ports(ports: int, ifname: str = "port{}") -> list[SimRow]:
    """IF-MIB rows of a switch whose ports 1-5 are up and carry traffic, the rest down."""
    return [
        SimRow(index=i, labels={"ifname": ifname.format(i), "ifalias": ""},
               values={"oper_up": int(i <= 5), "admin_up": 1, "speed_mbps": 1000,
                       "in_bytes_per_s": 1_000_000 * i, "out_bytes_per_s": 2_000_000 * i,
                       "in_errors_per_s": 0, "out_errors_per_s": 0,
                       "in_discards_per_s": 0, "out_discards_per_s": 0})
        for i in range(1, ports + 1)
    ]  # fmt: skip


def poe_switch(name: str = "sw1", ports: int = 8) -> DeviceSpec:
    rows = switch_ports(ports)
    return DeviceSpec(
        name=name, kind="switch", profile="switch",
        sys_descr=f"{ports}-port PoE+ managed switch (simulated)",
        sys_object_id="1.3.6.1.4.1.11863.1.1.200",
        values={"uptime_s": 2_592_000, "poe_budget_w": 150, "poe_used_w": 42},
        tables={"interfaces": rows},
    )  # fmt: skip


def ups(name: str = "ups1") -> DeviceSpec:
    ident = "1.3.6.1.2.1.33.1.1"
    return DeviceSpec(
        name=name, kind="ups", profile="ups-rfc1628",
        sys_descr="UPS network card, UPS-MIB (simulated)", sys_object_id="1.3.6.1.2.1.33",
        values={"uptime_s": 5_184_000, "on_battery": 0, "on_battery_s": 0,
                "battery_status": 2, "battery_minutes_remaining": 45,
                "battery_charge_pct": 100, "battery_temperature_c": 28,
                "input_voltage_v": 230, "output_voltage_v": 230, "load_pct": 32},
        raw={f"{ident}.1.0": ("octet_str", "SimPower"), f"{ident}.2.0": ("octet_str", "SP-3000"),
             f"{ident}.3.0": ("octet_str", "1.0.7")},
    )  # fmt: skip


def nas(name: str = "nas1") -> DeviceSpec:
    ports = [SimRow(index=i, labels={"ifname": f"eth{i - 1}"},
                    values={"oper_up": 1, "admin_up": 1, "speed_mbps": 1000,
                            "in_bytes_per_s": 0, "out_bytes_per_s": 0})
             for i in (1, 2)]  # fmt: skip
    return DeviceSpec(
        name=name, kind="nas", profile="nas",
        sys_descr="Linux nas1 5.15.0 x86_64 TrueNAS (simulated)",
        sys_object_id="1.3.6.1.4.1.8072.3.2.10",
        values={"uptime_s": 1_296_000, "cpu_pct": 12, "processes": 210},
        tables={"storage": [storage_row(1, "Physical memory", 8 * 2**30, 45),
                            storage_row(2, "/mnt/tank", 8e12, 62)],
                "interfaces": ports},
    )  # fmt: skip


def projector(name: str = "proj1") -> DeviceSpec:
    return DeviceSpec(
        name=name, kind="projector", profile="roomcam-projector",
        sys_descr="RoomCam LP-500 projector", sys_object_id=f"{_RC}.1.3",
        values={"uptime_s": 3_600, "temperature_c": 38.0, "lamp_hours": 1_850,
                "lamp_life_hours": 4_000, "power_on": 1},
        raw={f"{_RC}.3.1.0": ("octet_str", "LP-500"), f"{_RC}.3.2.0": ("octet_str", "1.2")},
    )  # fmt: skip


def storage_row(index: int, name: str, size_bytes: float, used_pct: float) -> SimRow:
    """A hrStorageTable row; the allocation unit keeps the size within an Integer32."""
    unit_bytes = 4096
    while size_bytes / unit_bytes >= 2**31:
        unit_bytes *= 2
    return SimRow(
        index=index, labels={"storage": name},
        values={"size_bytes": size_bytes, "used_pct": used_pct},
        raw={_ALLOC_UNITS: ("integer", unit_bytes)},
    )  # fmt: skip
