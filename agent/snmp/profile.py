"""Device profiles: what to read from a device model and how each value becomes a number.

A profile is a YAML file (``agent/profiles/*.yaml`` or a folder named in ``profiles_dirs``)
with numeric OIDs only, in the spirit of snmp_exporter's modules. This module validates
those files strictly, resolves ``extends``, converts raw SNMP values (scale, enum maps,
strings with units) and chooses a profile for a device. Counters are turned into rates by
the poller, which keeps the state; see ``docs/profiles.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from roomwatch.agent.errors import ConfigError, ProfileError
from roomwatch.agent.snmp.client import Counter, SnmpValue
from roomwatch.agent.snmp.fields import MetricName, Oid, Regex
from roomwatch.agent.snmp.trapspec import TrapSpec
from roomwatch.agent.yamlconfig import describe_validation_error, read_yaml

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "profiles"
FALLBACK_PROFILE = "fallback"
ENTERPRISE_ARCS = 7
"""Arcs of an enterprise OID, 1.3.6.1.4.1.<n>: a match no longer than this names a maker,
not a product line."""
NO_VALUE_TEXTS = frozenset({"", "unknown", "n/a"})
"""Texts that mean "no reading" in any metric (compared trimmed, case-insensitively)."""
_Named = TypeVar("_Named", "MetricSpec", "TableSpec")
ProfileName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]

# Units a string value may carry, as (dimension, factor to the dimension's base unit).
# Byte multiples are binary (1 MB = 1024 KB), as devices report memory and storage.
_UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(["%", "pct", "percent"], ("ratio", 1.0)),
    **dict.fromkeys(["b", "byte", "bytes"], ("bytes", 1.0)),
    **dict.fromkeys(["kb", "kib", "kbytes"], ("bytes", 1024.0)),
    **dict.fromkeys(["mb", "mib", "mbytes"], ("bytes", 1024.0**2)),
    **dict.fromkeys(["gb", "gib", "gbytes"], ("bytes", 1024.0**3)),
    **dict.fromkeys(["tb", "tib", "tbytes"], ("bytes", 1024.0**4)),
    **dict.fromkeys(["bps", "bit/s"], ("bitrate", 1.0)),
    **dict.fromkeys(["kbps", "kbit/s", "kb/s"], ("bitrate", 1e3)),
    **dict.fromkeys(["mbps", "mbit/s", "mb/s"], ("bitrate", 1e6)),
    **dict.fromkeys(["gbps", "gbit/s", "gb/s"], ("bitrate", 1e9)),
    **dict.fromkeys(["ms", "msec"], ("time", 1e-3)),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], ("time", 1.0)),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], ("time", 60.0)),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], ("time", 3600.0)),
    **dict.fromkeys(["d", "day", "days"], ("time", 86400.0)),
    **dict.fromkeys(["c", "°c", "degc", "celsius"], ("celsius", 1.0)),
    **dict.fromkeys(["mv"], ("volt", 1e-3)),
    **dict.fromkeys(["v", "volt", "volts"], ("volt", 1.0)),
    **dict.fromkeys(["w", "watt", "watts"], ("watt", 1.0)),
    **dict.fromkeys(["kw"], ("watt", 1e3)),
    **dict.fromkeys(["hz"], ("hertz", 1.0)),
    **dict.fromkeys(["fps"], ("fps", 1.0)),
}
_NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(\S.*?)?\s*$")
# The first of two readings of one value, "28 C/82 F" (QNAP's hdTable) or "30 C (86 F)":
# a number with its unit, then "/" or "(". Tried only when the whole text is not a
# quantity, so units with a slash ("kbit/s") still read whole.
_FIRST_READING = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([^\s\d/(][^\s/(]*)\s*[/(]")


def unit_of(metric_name: str) -> str | None:
    """The unit a metric name ends in (``bitrate_kbps`` -> ``kbps``), if it is a known unit."""
    suffix = metric_name.rsplit("_", 1)[-1]
    return suffix if suffix in _UNITS else None


def parse_quantity(text: str, target_unit: str) -> float | None:
    """``"512 MB"`` in ``bytes`` -> 536870912.0; None for garbage or a unit of another kind.

    A bare number is taken to be in ``target_unit`` already. Of a text giving the value
    twice, ``"28 C/82 F"``, the first reading is taken.
    """
    text = text.replace("\x00", "")
    found = _NUMBER_WITH_UNIT.match(text)
    if not found:
        return None
    number, unit = float(found.group(1)), (found.group(2) or target_unit).lower()
    if unit not in _UNITS:
        first = _FIRST_READING.match(text)
        if first is None or first.group(2).lower() not in _UNITS:
            return None
        number, unit = float(first.group(1)), first.group(2).lower()
    dimension, factor = _UNITS[unit]
    target_dimension, target_factor = _UNITS[target_unit]
    if dimension != target_dimension:
        return None
    return number * factor / target_factor


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Another OID to read when the first one is not served (e.g. 32-bit ifInOctets)."""

    oid: Oid
    scale: float = 1.0


RawMatch = int | str
"""A raw value a profile compares with: an integer, a text, or an OID written as text."""


def raw_equals(raw: SnmpValue, wanted: RawMatch) -> bool:
    """Whether a value read equals a value written in a profile (texts trimmed, any case;
    OIDs without a leading dot)."""
    value = raw.value if isinstance(raw, Counter) else raw
    if isinstance(wanted, int):
        return isinstance(value, int) and value == wanted
    if isinstance(value, int):
        return False
    return value.strip().lstrip(".").lower() == wanted.strip().lstrip(".").lower()


class RowFilter(_Strict):
    """Which rows of a table are kept: those whose value in column ``oid`` is in ``in``
    (or not in ``not_in``, or whose text matches ``regex`` / does not match ``not_regex``)."""

    oid: Oid = Field(description="A column of the table.")
    in_: list[RawMatch] | None = Field(default=None, alias="in")
    not_in: list[RawMatch] | None = None
    regex: Regex | None = None
    not_regex: Regex | None = None

    @model_validator(mode="after")
    def _one_test(self) -> RowFilter:
        given = [self.in_, self.not_in, self.regex, self.not_regex]
        if sum(test is not None for test in given) != 1:
            raise ValueError("give exactly one of in, not_in, regex, not_regex")
        return self

    def keeps(self, raw: SnmpValue | None) -> bool:
        """Whether a row whose column value is ``raw`` (None: the row has none) is kept."""
        if raw is None:
            return self.not_in is not None or self.not_regex is not None
        if self.in_ is not None:
            return any(raw_equals(raw, wanted) for wanted in self.in_)
        if self.not_in is not None:
            return not any(raw_equals(raw, wanted) for wanted in self.not_in)
        text = str(raw.value if isinstance(raw, Counter) else raw)
        if self.regex is not None:
            return re.search(self.regex, text) is not None
        return re.search(self.not_regex or "", text) is None


class MetricSpec(_Strict):
    """One number read from a device: a scalar, or a column of a table."""

    name: MetricName
    oid: Oid = Field(description="Scalar instance (ending .0) or, in a table, the column OID.")
    type: Literal["gauge", "counter", "enum", "string"] = "gauge"
    scale: float = Field(default=1.0, description="Multiplier: 0.1 for tenths of a degree.")
    enum: dict[int | str, float] | None = Field(
        default=None, description="Raw integer, or text (any case, trimmed) -> number."
    )
    unit: str | None = Field(default=None, description="Unit of a string value's result.")
    fallback: Source | None = None
    multiply_by: Oid | None = Field(default=None, description="Times the value at this OID.")
    divide_by: Oid | None = Field(default=None, description="Divided by the value at this OID.")
    subtract_from: float | None = Field(
        default=None,
        description="Reported as this number minus the value (after scale and operands): "
        "100 turns a percentage free into the percentage used.",
    )
    aggregate: Literal["avg", "sum", "min", "max", "count"] | None = Field(
        default=None, description="Scalars only: walk the column at ``oid`` and combine rows."
    )
    count_values: list[RawMatch] | None = Field(
        default=None, description="aggregate: count counts the rows whose value is one of these."
    )
    no_value: list[RawMatch] = Field(
        default_factory=list, description="Raw values that mean no reading (-1, 2147483647)."
    )
    where: list[RowFilter] = Field(
        default_factory=list, description="With aggregate: only the rows that pass these."
    )
    help: str = ""

    @model_validator(mode="before")
    @classmethod
    def _enum_keys(cls, data: Any) -> Any:
        """YAML reads ``{1: 1}`` keys as integers and ``{on: 1}`` as texts; a digit string
        such as ``"1"`` (JSON) is the integer it spells. One ``where`` filter may be given
        without a list."""
        if isinstance(data, dict) and isinstance(data.get("enum"), dict):
            data = {**data, "enum": {_enum_key(k): v for k, v in data["enum"].items()}}
        if isinstance(data, dict) and isinstance(data.get("where"), dict):
            data = {**data, "where": [data["where"]]}
        return data

    @model_validator(mode="after")
    def _check_type_fields(self) -> MetricSpec:
        if self.type == "counter" and not self.name.endswith("_per_s"):
            raise ValueError(f"counter {self.name!r} becomes a rate: its name must end in _per_s")
        if self.type != "counter" and self.name.endswith("_per_s"):
            raise ValueError(f"{self.name!r} ends in _per_s, which is for type: counter")
        if (self.type == "enum") != (self.enum is not None):
            raise ValueError("type: enum needs an enum map, and only type: enum takes one")
        if self.unit is not None and self.unit.lower() not in _UNITS:
            raise ValueError(f"unknown unit {self.unit!r} (known: {', '.join(sorted(_UNITS))})")
        if self.type == "string" and self.target_unit is None:
            raise ValueError(
                f"type: string needs a unit: end the name in one or set unit "
                f"(known: {', '.join(sorted(_UNITS))})"
            )
        if self.subtract_from is not None and self.type == "counter":
            raise ValueError("subtract_from is for gauges, enums and strings, not counters")
        if self.aggregate and self.type == "counter":
            raise ValueError("aggregate combines gauges, enums or strings, not counters")
        if (self.aggregate == "count") != (self.count_values is not None):
            raise ValueError("aggregate: count needs count_values, and only it takes them")
        if self.where and not self.aggregate:
            raise ValueError("where on a metric selects the rows of an aggregate: add one")
        return self

    def keeps(self, lookup: Callable[[str], SnmpValue | None]) -> bool:
        """Whether a row (its columns read by ``lookup``) passes every ``where`` filter."""
        return all(f.keeps(lookup(f.oid)) for f in self.where)

    @property
    def target_unit(self) -> str | None:
        """The unit a string value is converted into: ``unit``, or the name's last word."""
        return self.unit.lower() if self.unit else unit_of(self.name)

    def is_no_value(self, raw: SnmpValue) -> bool:
        """Whether ``raw`` means "no reading": one of ``no_value``, or an empty/unknown text
        (unless the enum maps that text)."""
        if any(raw_equals(raw, wanted) for wanted in self.no_value):
            return True
        if isinstance(raw, str) and raw.strip().lower() in NO_VALUE_TEXTS:
            return self.enum is None or _text_enum(self.enum, raw) is None
        return False

    def number(self, raw: SnmpValue, scale: float) -> float | None:
        """A gauge, enum or string value as a number; None when the raw value does not fit
        or means no reading."""
        if self.is_no_value(raw):
            return None
        if self.type == "string":
            if not isinstance(raw, str):
                return None
            quantity = parse_quantity(raw, self.target_unit or "")
            return None if quantity is None else quantity * scale
        value = raw.value if isinstance(raw, Counter) else raw
        if self.enum is not None:
            return self.enum.get(value) if isinstance(value, int) else _text_enum(self.enum, value)
        if isinstance(value, str):  # a number sent as text ("42", "0.15"), as some agents do
            number = _plain_float(value)
            if number is None and unit_of(self.name):  # or with a unit: "28 C/82 F"
                number = parse_quantity(value, unit_of(self.name) or "")
            return None if number is None else number * scale
        return value * scale


def _enum_key(key: Any) -> Any:
    if isinstance(key, str) and re.fullmatch(r"\s*-?\d+\s*", key):
        return int(key)
    return key


def _text_enum(enum: Mapping[int | str, float], text: str) -> float | None:
    wanted = text.strip().lower()
    for key, number in enum.items():
        if isinstance(key, str) and key.strip().lower() == wanted:
            return number
    return None


def _plain_float(text: str) -> float | None:
    try:
        return float(text.strip().replace("\x00", ""))
    except ValueError:
        return None


class LabelSpec(_Strict):
    """A label of every table row, read from a column (ifName, falling back to ifDescr)."""

    name: MetricName
    oid: Oid
    fallback_oid: Oid | None = None


class TableSpec(_Strict):
    name: MetricName
    index_label: MetricName | None = Field(
        default=None, description="Also label each row with its index under this name."
    )
    where: list[RowFilter] = Field(
        default_factory=list, description="Keep only rows that pass every filter."
    )
    labels: list[LabelSpec] = Field(default_factory=list)
    metrics: list[MetricSpec] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_filter(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("where"), dict):
            data = {**data, "where": [data["where"]]}
        return data

    def keeps(self, lookup: Callable[[str], SnmpValue | None]) -> bool:
        """Whether the row whose columns ``lookup`` reads passes every ``where`` filter."""
        return all(f.keeps(lookup(f.oid)) for f in self.where)

    @model_validator(mode="after")
    def _no_aggregates(self) -> TableSpec:
        if any(m.aggregate or m.where for m in self.metrics):
            raise ValueError("aggregate and where are for scalar metrics, not table columns")
        return self


class IdentityField(_Strict):
    """A fixed ``value``, or text read at ``oid`` (default: sysDescr), cut by ``regex``."""

    value: str | None = None
    oid: Oid | None = None
    regex: Regex | None = Field(default=None, description="First group (or whole match) is kept.")

    @model_validator(mode="before")
    @classmethod
    def _plain_string(cls, data: Any) -> Any:
        return {"value": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_source(self) -> IdentityField:
        if (self.value is None) == (self.oid is None and self.regex is None):
            raise ValueError("give either value, or oid and/or regex")
        return self

    def extract(self, sys_descr: str, read: Mapping[str, SnmpValue]) -> str | None:
        if self.value is not None:
            return self.value
        text = read.get(self.oid) if self.oid else sys_descr
        if not isinstance(text, str):
            return None
        if self.regex is None:
            return text.strip() or None
        found = re.search(self.regex, text)
        if not found:
            return None
        return (found.group(1) if found.groups() else found.group(0)).strip() or None


class Identity(_Strict):
    vendor: IdentityField | None = None
    model: IdentityField | None = None
    firmware: IdentityField | None = None


class Probe(_Strict):
    """A GET of one OID that only a family answers (and, with ``regex``, answers so)."""

    oid: Oid = Field(description="A scalar instance, read once when the device is identified.")
    regex: Regex | None = Field(default=None, description="Searched in the value's text.")

    def matches(self, probes: Mapping[str, SnmpValue]) -> bool:
        raw = probes.get(self.oid)
        if raw is None:  # noSuchObject / noSuchInstance / not read: no match
            return False
        if self.regex is None:
            return True
        text = str(raw.value if isinstance(raw, Counter) else raw)
        return re.search(self.regex, text) is not None


class Match(_Strict):
    sys_object_id: list[Oid] = Field(default_factory=list, description="sysObjectID prefixes.")
    sys_descr: Regex | None = Field(default=None, description="Searched in sysDescr.")
    probe: Probe | None = Field(default=None, description="An OID only this family answers.")


class ProfileFile(_Strict):
    """The schema of one profile file."""

    name: ProfileName
    kind: MetricName = Field(description="camera, encoder, switch, ups, nas, ... or any.")
    description: str = ""
    extends: list[ProfileName] = Field(default_factory=list)
    match: Match | None = None
    default_for_kinds: list[MetricName] = Field(
        default_factory=list, description="Chosen for these kinds when no vendor profile matches."
    )
    identity: Identity | None = None
    metrics: list[MetricSpec] = Field(default_factory=list)
    tables: list[TableSpec] = Field(default_factory=list)
    traps: list[TrapSpec] = Field(default_factory=list, description="Notifications -> events.")

    @model_validator(mode="after")
    def _unique_traps(self) -> ProfileFile:
        oids = [t.oid for t in self.traps]
        repeated = sorted({o for o in oids if oids.count(o) > 1})
        if repeated:
            raise ValueError(f"traps: each OID once; repeated: {', '.join(repeated)}")
        return self


@dataclass(frozen=True)
class Profile:
    """A profile with everything it extends merged in (its own entries win by name)."""

    name: str
    kind: str
    source: Path
    match: Match | None
    identity: Identity
    metrics: tuple[MetricSpec, ...]
    tables: tuple[TableSpec, ...]
    traps: tuple[TrapSpec, ...] = ()
    default_for_kinds: tuple[str, ...] = ()

    def trap(self, trap_oid: str) -> TrapSpec | None:
        """The mapping of a notification OID, if this profile (or one it extends) has one.

        A v1 trap arrives as ``<enterprise>.0.<specific>`` (RFC 3584), so a notification
        an SMIv2 MIB defines as ``<parent>.<n>`` (UPS-MIB upsTraps) is also found as
        ``<parent>.0.<n>``."""
        for wanted in (trap_oid, *_smiv2_form(trap_oid)):
            found = next((t for t in self.traps if t.oid == wanted), None)
            if found is not None:
                return found
        return None

    def match_score(
        self, sys_object_id: str, sys_descr: str, probes: Mapping[str, SnmpValue] | None = None
    ) -> tuple[int, int] | None:
        """How well this profile fits: (OID arcs matched, sysDescr matched); None: no fit.

        The OID arcs are those of the longest sysObjectID prefix that matches, or of the
        probe OID when it answers (a probe is a GET of the family's own OID, as specific as
        a sysObjectID prefix of the same length)."""
        if self.match is None:
            return None
        prefixes = [p for p in self.match.sys_object_id if _has_prefix(sys_object_id, p)]
        by_oid = max((p.count(".") + 1 for p in prefixes), default=0)
        probe = self.match.probe
        if probe is not None and probe.matches(probes or {}):
            by_oid = max(by_oid, probe.oid.count(".") + 1)
        pattern = self.match.sys_descr
        by_descr = int(bool(pattern and re.search(pattern, sys_descr)))
        return (by_oid, by_descr) if by_oid or by_descr else None

    def identity_oids(self) -> list[str]:
        fields = (self.identity.vendor, self.identity.model, self.identity.firmware)
        return [f.oid for f in fields if f is not None and f.oid is not None]


def _has_prefix(oid: str, prefix: str) -> bool:
    oid = oid.lstrip(".")
    return oid == prefix or oid.startswith(prefix + ".")


def load_profile_file(path: Path) -> ProfileFile:
    """Read and validate one file; ProfileError names the file and the key."""
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise ProfileError(str(exc)) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of keys at the top")
    try:
        return ProfileFile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(describe_validation_error(exc, ProfileFile, str(path))) from None


class ProfileRegistry:
    """All known profiles by name; picks one for a device."""

    def __init__(self, files: Mapping[str, tuple[Path, ProfileFile]]) -> None:
        self._files = dict(files)
        self._profiles = {name: self._resolve(name, ()) for name in self._files}
        if FALLBACK_PROFILE not in self._profiles:
            raise ProfileError(f"no {FALLBACK_PROFILE!r} profile: the fallback must exist")
        self._check_one_default_per_kind()

    def _check_one_default_per_kind(self) -> None:
        owners: dict[str, Path] = {}
        for _name, (path, parsed) in sorted(self._files.items()):
            for kind in parsed.default_for_kinds:
                if kind in owners:
                    raise ProfileError(
                        f"{path}: default_for_kinds: {kind!r} is also the default in "
                        f"{owners[kind]}; one default per kind"
                    )
                owners[kind] = path

    @classmethod
    def load(cls, extra_dirs: Sequence[Path] = ()) -> ProfileRegistry:
        """Built-in profiles plus ``extra_dirs``; a name in an extra dir hides a built-in."""
        files: dict[str, tuple[Path, ProfileFile]] = {}
        for folder in [*extra_dirs, BUILTIN_DIR]:
            if not Path(folder).is_dir():
                raise ProfileError(f"{folder}: profile folder not found")
            in_folder: dict[str, Path] = {}
            for path in sorted(Path(folder).glob("*.yaml")):
                parsed = load_profile_file(path)
                if parsed.name in in_folder:
                    raise ProfileError(
                        f"{path}: name: {parsed.name!r} is also defined in {in_folder[parsed.name]}"
                    )
                in_folder[parsed.name] = path
                files.setdefault(parsed.name, (path, parsed))
        return cls(files)

    def names(self) -> list[str]:
        return sorted(self._profiles)

    def get(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise ProfileError(
                f"unknown profile {name!r} (known: {', '.join(self.names())})"
            ) from None

    def trap(self, trap_oid: str) -> TrapSpec | None:
        """The mapping of a notification OID in any profile (by profile name), if any."""
        for name in self.names():
            found = self._profiles[name].trap(trap_oid)
            if found is not None:
                return found
        return None

    def probe_oids(self) -> list[str]:
        """Every ``match.probe`` OID, to be read with sysObjectID when a device is identified."""
        found = [p.match.probe.oid for p in self._profiles.values() if p.match and p.match.probe]
        return sorted(set(found))

    def select(
        self,
        sys_object_id: str,
        sys_descr: str,
        kind: str | None = None,
        probes: Mapping[str, SnmpValue] | None = None,
    ) -> Profile:
        """The profile for a device: the best vendor match (sysObjectID prefix or probe,
        then sysDescr; the device's kind first), else the standard profile of its kind
        (``default_for_kinds``), else the fallback. ``probes``: the values read at
        ``probe_oids()`` (an OID the device does not serve is absent).

        A vendor match of another kind loses to the standard profile of the device's own
        kind unless it is specific: a sysObjectID prefix below the enterprise number (a
        product line) or a probe. The switch profile's bare Huawei enterprise prefix says
        little about a Huawei UPS (sysObjectID 1.3.6.1.4.1.2011.6.174...); the Huawei VRP
        switch prefix 1.3.6.1.4.1.2011.2.23 says it is a switch whatever the inventory says."""
        best: tuple[tuple[int, int, int], str] | None = None
        for name, profile in sorted(self._profiles.items()):
            score = profile.match_score(sys_object_id, sys_descr, probes)
            if score is None:
                continue
            ranked = (int(profile.kind == kind), *score)
            if best is None or ranked > best[0]:
                best = (ranked, name)
        default = self.default_for(kind)
        if best is None:
            return default or self._profiles[FALLBACK_PROFILE]
        (_, oid_arcs, _), matched = best
        own_kind = self._profiles[matched].kind in (kind, "any")
        if default is None or own_kind or oid_arcs > ENTERPRISE_ARCS:
            return self._profiles[matched]
        return default

    def default_for(self, kind: str | None) -> Profile | None:
        """The profile that lists ``kind`` in ``default_for_kinds``, if one does."""
        if kind is None:
            return None
        return next(
            (p for _, p in sorted(self._profiles.items()) if kind in p.default_for_kinds), None
        )

    def _resolve(self, name: str, chain: tuple[str, ...]) -> Profile:
        path, parsed = self._files[name]
        parents = [self._parent(path, parent, (*chain, name)) for parent in parsed.extends]
        identity = _merge_identity([p.identity for p in parents] + [parsed.identity])
        return Profile(
            name=name,
            kind=parsed.kind,
            source=path,
            match=parsed.match,
            identity=identity,
            metrics=_merge_by_name([*(p.metrics for p in parents), parsed.metrics]),
            tables=_merge_by_name([*(p.tables for p in parents), parsed.tables]),
            traps=_merge_traps([*(p.traps for p in parents), parsed.traps]),
            default_for_kinds=tuple(parsed.default_for_kinds),
        )

    def _parent(self, path: Path, parent: str, chain: tuple[str, ...]) -> Profile:
        if parent in chain:
            raise ProfileError(f"{path}: extends: cycle {' -> '.join((*chain, parent))}")
        if parent not in self._files:
            raise ProfileError(
                f"{path}: extends: unknown profile {parent!r} (known: {', '.join(self._files)})"
            )
        return self._resolve(parent, chain)


def _merge_by_name(groups: Iterable[Iterable[_Named]]) -> tuple[_Named, ...]:
    merged: dict[str, _Named] = {}
    for group in groups:
        for item in group:
            merged.pop(item.name, None)
            merged[item.name] = item
    return tuple(merged.values())


def _smiv2_form(trap_oid: str) -> tuple[str, ...]:
    parent, _, last = trap_oid.rpartition(".")
    return (parent[:-2] + "." + last,) if parent.endswith(".0") else ()


def _merge_traps(groups: Iterable[Iterable[TrapSpec]]) -> tuple[TrapSpec, ...]:
    merged: dict[str, TrapSpec] = {}
    for group in groups:
        for trap in group:
            merged[trap.oid] = trap
    return tuple(merged.values())


def _merge_identity(parts: Iterable[Identity | None]) -> Identity:
    fields: dict[str, IdentityField] = {}
    for part in parts:
        if part is None:
            continue
        for key in ("vendor", "model", "firmware"):
            value = getattr(part, key)
            if value is not None:
                fields[key] = value
    return Identity(**fields)
