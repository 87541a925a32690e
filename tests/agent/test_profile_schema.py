"""Profile keys for real devices: probes, defaults per kind, row filters, no-value sentinels,
counted rows and text enums; each validated strictly and applied as the docs say."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomwatch.agent.errors import ProfileError
from roomwatch.agent.snmp.client import Counter
from roomwatch.agent.snmp.profile import (
    BUILTIN_DIR,
    MetricSpec,
    ProfileRegistry,
    TableSpec,
    load_profile_file,
)
from roomwatch.agent.snmp.readings import CounterRates, aggregate_metrics, table_rows

SYNOLOGY_MODEL = "1.3.6.1.4.1.6574.1.5.1.0"
NET_SNMP_LINUX = "1.3.6.1.4.1.8072.3.2.10"
HR_STORAGE_TYPE = "1.3.6.1.2.1.25.2.3.1.2"
HR_STORAGE_DESCR = "1.3.6.1.2.1.25.2.3.1.3"
HR_STORAGE_USED = "1.3.6.1.2.1.25.2.3.1.6"
FIXED_DISK = "1.3.6.1.2.1.25.2.1.4"
RAM = "1.3.6.1.2.1.25.2.1.2"
UPS_ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2"
BATTERY_BAD = "1.3.6.1.2.1.33.1.6.3.1"
ON_BATTERY = "1.3.6.1.2.1.33.1.6.3.2"


def registry_with(tmp_path: Path, **files: str) -> ProfileRegistry:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return ProfileRegistry.load([tmp_path])


def only(tmp_path: Path, **files: str) -> ProfileRegistry:
    """A registry of these files and the fallback's parts only, apart from other built-ins."""
    paths = [BUILTIN_DIR / f"{n}.yaml" for n in ("generic-system", "if-mib", "fallback")]
    for name, text in files.items():
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(text, encoding="utf-8")
    parsed = {path: load_profile_file(path) for path in paths}
    return ProfileRegistry({f.name: (path, f) for path, f in parsed.items()})


DSM = """
name: dsm
kind: nas
extends: [generic-system]
match:
  sys_object_id: [1.3.6.1.4.1.6574]
  probe: {oid: 1.3.6.1.4.1.6574.1.5.1.0, regex: '^(DS|RS)'}
"""
LINUX = """
name: linux-box
kind: host
extends: [generic-system]
match: {sys_object_id: [1.3.6.1.4.1.8072.3.2.10]}
"""


def test_a_probe_that_answers_matches_and_beats_a_shorter_sysobjectid_prefix(tmp_path):
    registry = only(tmp_path, dsm=DSM, linux=LINUX)
    assert registry.probe_oids() == [SYNOLOGY_MODEL]
    answered = {SYNOLOGY_MODEL: "DS918+"}
    assert registry.select(NET_SNMP_LINUX, "Linux nas 4.4", "nas", answered).name == "dsm"
    # Same device, inventory kind unknown: the 12-arc probe still beats the 10-arc prefix.
    assert registry.select(NET_SNMP_LINUX, "Linux nas 4.4", None, answered).name == "dsm"


def test_a_probe_that_is_absent_or_fails_its_regex_does_not_match(tmp_path):
    registry = only(tmp_path, dsm=DSM, linux=LINUX)
    # noSuchObject: the client leaves the OID out of what it returns.
    assert registry.select(NET_SNMP_LINUX, "Linux pc 6.1", None, {}).name == "linux-box"
    wrong = {SYNOLOGY_MODEL: "not a model"}
    assert registry.select(NET_SNMP_LINUX, "Linux pc 6.1", None, wrong).name == "linux-box"


def test_default_for_kinds_is_used_only_when_no_vendor_profile_matches(profile_registry):
    unknown_oid, descr = "1.3.6.1.4.1.99999.7", "Network Management Card"
    assert profile_registry.select(unknown_oid, descr, "ups").name == "ups-rfc1628"
    assert profile_registry.select(unknown_oid, descr, "host").name == "host-generic"
    assert profile_registry.select(unknown_oid, descr, "camera").name == "fallback"
    assert profile_registry.select(unknown_oid, descr, None).name == "fallback"


def test_two_defaults_for_one_kind_are_refused(tmp_path):
    second = "name: other-ups\nkind: ups\ndefault_for_kinds: [ups]\n"
    with pytest.raises(ProfileError, match=r"default_for_kinds: 'ups' is also") as raised:
        registry_with(tmp_path, other=second)
    assert "other.yaml" in str(raised.value) and "ups-rfc1628.yaml" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("match: {probe: {oid: modelName.0}}", "match.probe.oid"),
        ("match: {probe: {oid: 1.3.6.1.4.1.6574.1.5.1.0, regx: DS}}", "match.probe.regx"),
        ("default_for_kinds: [UPS!]", "default_for_kinds.0"),
        ("tables: [{name: t, where: {oid: 1.3.6.1.2.1.25.2.3.1.2, in: [1], not_in: [2]}, "
         "metrics: [{name: x, oid: 1.3.6.1.2.1.25.2.3.1.6}]}]", "tables.0.where.0"),
        ("tables: [{name: t, where: {oid: 1.3.6.1.2.1.25.2.3.1.2, is: [1]}, "
         "metrics: [{name: x, oid: 1.3.6.1.2.1.25.2.3.1.6}]}]", "tables.0.where.0.is"),
        ("metrics: [{name: n, oid: 1.3.6.1.2.1.33.1.6.2.1.2, aggregate: count}]", "metrics.0"),
        ("metrics: [{name: n, oid: 1.3.6.1.2.1.1.3.0, count_values: [1]}]", "metrics.0"),
        ("metrics: [{name: n, oid: 1.3.6.1.2.1.1.3.0, no_value: [[1]]}]", "metrics.0.no_value.0"),
        ("metrics: [{name: n_per_s, oid: 1.3.6.1.2.1.2.2.1.10, type: counter, "
         "subtract_from: 100}]", "metrics.0"),
    ],
)  # fmt: skip
def test_a_bad_new_key_names_the_file_and_the_key(tmp_path, body, key):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nkind: nas\n{body}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        ProfileRegistry.load([tmp_path])
    assert str(path) in str(raised.value) and key in str(raised.value)


def test_where_keeps_only_rows_whose_column_value_is_listed():
    table = TableSpec.model_validate(
        {
            "name": "storage",
            "where": {"oid": HR_STORAGE_TYPE, "in": [FIXED_DISK, "1.3.6.1.2.1.25.2.1.10"]},
            "labels": [{"name": "storage", "oid": HR_STORAGE_DESCR}],
            "metrics": [{"name": "used", "oid": HR_STORAGE_USED}],
        }
    )
    columns = {
        HR_STORAGE_TYPE: {"1": RAM, "31": FIXED_DISK, "36": "." + FIXED_DISK},
        HR_STORAGE_DESCR: {"1": "Physical memory", "31": "/", "36": "/data", "40": "/x"},
        HR_STORAGE_USED: {"1": 900, "31": 10, "36": 20, "40": 30},  # 40: no type, dropped
    }
    rows = table_rows(table, columns, CounterRates(), 0.0)
    assert [r.labels["storage"] for r in rows] == ["/", "/data"]


def test_where_can_also_drop_rows_by_a_text_pattern():
    table = TableSpec.model_validate(
        {
            "name": "storage",
            "where": [{"oid": HR_STORAGE_DESCR, "not_regex": "^/(dev|run|sys)(/|$)"}],
            "metrics": [{"name": "used", "oid": HR_STORAGE_USED}],
        }
    )
    columns = {
        HR_STORAGE_DESCR: {"1": "/", "2": "/dev/shm", "3": "/run", "4": "/srv/run"},
        HR_STORAGE_USED: {"1": 1, "2": 2, "3": 3, "4": 4},
    }
    rows = table_rows(table, columns, CounterRates(), 0.0)
    assert [r.metrics["used"] for r in rows] == [1, 4]


def test_no_value_sentinels_and_unknown_texts_give_no_value():
    temperature = MetricSpec(name="temperature_c", oid="1.3.6.1.4.1.1.0", no_value=[-1, 2147483647])
    assert temperature.number(-1, 1.0) is None
    assert temperature.number(2147483647, 1.0) is None
    assert temperature.number(41, 1.0) == 41
    voltage = MetricSpec(name="input_voltage_v", oid="1.3.6.1.4.1.1.0", no_value=["unknown"])
    assert voltage.number(" Unknown ", 1.0) is None
    assert voltage.number("n/a", 1.0) is None and voltage.number("", 1.0) is None
    assert voltage.number("229.5", 1.0) == 229.5  # a number sent as text
    counter = MetricSpec(name="x_per_s", oid="1.3.6.1.4.1.1.0", type="counter", no_value=[0])
    assert counter.is_no_value(Counter(0, 32))


def test_aggregate_count_counts_matching_rows_and_is_zero_for_an_empty_table():
    spec = MetricSpec(
        name="battery_replace",
        oid=UPS_ALARM_DESCR,
        aggregate="count",
        count_values=[BATTERY_BAD],
    )
    alarms = {UPS_ALARM_DESCR: {"1": ON_BATTERY, "2": BATTERY_BAD}}
    assert aggregate_metrics([spec], alarms) == {"battery_replace": 1}
    assert aggregate_metrics([spec], {UPS_ALARM_DESCR: {}}) == {"battery_replace": 0}


def test_enum_keys_may_be_texts_matched_in_any_case():
    spec = MetricSpec.model_validate(
        {"name": "status_ok", "oid": "1.3.6.1.4.1.1.0", "type": "enum",
         "enum": {"Normal": 1, "warning": 0, 3: 0, "4": 0}}
    )  # fmt: skip
    assert spec.number(" NORMAL ", 1.0) == 1
    assert spec.number("Warning", 1.0) == 0
    assert spec.number(3, 1.0) == 0 and spec.number(4, 1.0) == 0  # "4" is the integer 4
    assert spec.number("broken", 1.0) is None
