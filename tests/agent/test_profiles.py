"""Device profiles as data: the shipped files, strict validation, selection, conversions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from roomwatch.agent.errors import ProfileError
from roomwatch.agent.snmp.client import Counter
from roomwatch.agent.snmp.profile import MetricSpec, ProfileRegistry, parse_quantity
from roomwatch.agent.wire import METRIC_NAME_PATTERN

SHIPPED = {
    "generic-system", "if-mib", "switch", "ups-rfc1628", "host-resources", "nas",
    "roomcam-common", "roomcam-camera", "roomcam-encoder", "roomcam-projector",
}  # fmt: skip


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_profile_loads_with_wire_safe_metric_names(profile_registry):
    assert set(profile_registry.names()) >= SHIPPED
    for name in profile_registry.names():
        profile = profile_registry.get(name)
        names = [m.name for m in profile.metrics]
        names += [m.name for t in profile.tables for m in t.metrics]
        names += [t.name for t in profile.tables]
        assert all(re.match(METRIC_NAME_PATTERN, n) for n in names), name


def test_extends_merges_parents_and_keeps_the_profiles_own_entries(profile_registry):
    switch = profile_registry.get("switch")
    assert {"uptime_s", "poe_budget_w", "poe_used_w"} <= {m.name for m in switch.metrics}
    interfaces = next(t for t in switch.tables if t.name == "interfaces")
    assert {"oper_up", "speed_mbps", "in_bytes_per_s", "out_errors_per_s"} <= {
        m.name for m in interfaces.metrics
    }
    encoder = profile_registry.get("roomcam-encoder")
    assert {"cpu_pct", "temperature_c", "recording_on"} <= {m.name for m in encoder.metrics}
    assert encoder.identity.vendor is not None and encoder.identity.vendor.value == "RoomCam"


HUAWEI_UPS2000 = "1.3.6.1.4.1.2011.6.174.4.1.2.4"  # tests/fixtures/snmprec/ups-huawei-ups2000
HUAWEI_S5720 = "1.3.6.1.4.1.2011.2.23.291"  # tests/fixtures/snmprec/switch-huawei-s5720-56c-pwr


@pytest.mark.parametrize(
    ("sys_object_id", "sys_descr", "kind", "expected"),
    [
        ("1.3.6.1.4.1.55555.1.1", "", None, "roomcam-camera"),
        ("1.3.6.1.4.1.55555.1.2.7", "", None, "roomcam-encoder"),
        (".1.3.6.1.4.1.11863.1.1.200", "", None, "switch"),
        ("1.3.6.1.4.1.99999.1", "Acme 24-port PoE Switch", None, "switch"),
        ("1.3.6.1.2.1.33", "", None, "ups-rfc1628"),
        ("1.3.6.1.4.1.8072.3.2.10", "Linux nas 5.15 TrueNAS", None, "nas"),
        ("1.3.6.1.4.1.99999.1", "Something unknown", None, "fallback"),
        # A Huawei UPS2000 (real sysObjectID): only the switch profile's bare Huawei
        # enterprise prefix matches; the device's kind says ups, and that wins.
        (HUAWEI_UPS2000, "SNMP Card for HUAWEI UPS2000", "ups", "ups-rfc1628"),
        (HUAWEI_UPS2000, "SNMP Card for HUAWEI UPS2000", None, "switch"),
        # A Huawei S5720 (real sysObjectID) is matched by a product-line prefix: a switch,
        # even when the inventory calls it something else.
        (HUAWEI_S5720, "Huawei Versatile Routing Platform", "ups", "switch-huawei-vrp"),
        (HUAWEI_S5720, "Huawei Versatile Routing Platform", "switch", "switch-huawei-vrp"),
        # A kind without a standard profile keeps the best vendor match.
        (HUAWEI_UPS2000, "SNMP Card for HUAWEI UPS2000", "camera", "switch"),
        # Prefixes match whole OID components: 555550 is not under 55555.
        ("1.3.6.1.4.1.555550.1", "", None, "fallback"),
    ],
)
def test_profile_is_chosen_by_sysobjectid_prefix_sysdescr_and_kind(
    profile_registry, sys_object_id, sys_descr, kind, expected
):
    assert profile_registry.select(sys_object_id, sys_descr, kind).name == expected


def test_an_extra_folder_is_searched_first_and_can_replace_a_builtin(tmp_path):
    write(tmp_path, "mine", "name: roomcam-camera\nkind: camera\nmetrics: []\n")
    write(tmp_path, "lecture-audio", """
name: lecture-audio
kind: audio
extends: [generic-system]
match: {sys_descr: '(?i)dsp'}
metrics:
  - {name: mic_level_db, oid: 1.3.6.1.4.1.55555.9.1.0, scale: 0.1}
""")  # fmt: skip
    registry = ProfileRegistry.load([tmp_path])
    assert registry.get("roomcam-camera").source.parent == tmp_path
    audio = registry.select("1.3.6.1.4.1.1", "Room DSP 8x8", "audio")
    assert [m.name for m in audio.metrics] == ["uptime_s", "mic_level_db"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("name: bad\nkind: camera\nmetrics:\n  - {name: t_c, oid: 1.3.6.1.1.0, colour: red}\n",
         "metrics.0.colour: unknown key"),
        ("name: bad\nkind: camera\nmetrics:\n  - {name: t_c, oid: sysUpTime.0}\n",
         "metrics.0.oid"),
        ("name: bad\nkind: camera\nmetrics:\n  - {name: rx_bytes, oid: 1.3.6.1.1.0, type: counter}",
         "_per_s"),
        ("name: bad\nkind: camera\nmetrics:\n  - {name: mode, oid: 1.3.6.1.1.0, type: enum}\n",
         "enum map"),
        ("name: bad\nkind: camera\nmetrics:\n  - {name: bitrate, oid: 1.3.6.1.1.0, type: string}\n",
         "needs a unit"),
        ("name: bad\nkind: camera\nmetrics:\n  - {name: Temp, oid: 1.3.6.1.1.0}\n",
         "metrics.0.name"),
        ("name: bad\nkind: camera\nmatch: {sys_descr: '(unclosed'}\n", "match.sys_descr"),
        ("name: bad\nkind: camera\nextends: [no-such-profile]\n", "extends: unknown profile"),
        ("name: bad\nkind: camera\nmetrics: [\n", "not valid YAML"),
        ("name: bad\nmetrics: []\n", "kind: required key is missing"),
        ("name: bad\nkind: nas\nmetrics:\n  - {name: x, oid: 1.3.6.1.1.0, type: string, unit: mi}",
         "metrics.0: Value error, unknown unit 'mi'"),
    ],
)  # fmt: skip
def test_a_malformed_profile_names_the_file_and_the_key(tmp_path, body, key):
    path = write(tmp_path, "bad", body)
    with pytest.raises(ProfileError) as raised:
        ProfileRegistry.load([tmp_path])
    assert str(path) in str(raised.value)
    assert key in str(raised.value)


def test_an_extends_cycle_is_reported(tmp_path):
    write(tmp_path, "a", "name: a\nkind: any\nextends: [b]\n")
    write(tmp_path, "b", "name: b\nkind: any\nextends: [a]\n")
    with pytest.raises(ProfileError, match="extends: cycle"):
        ProfileRegistry.load([tmp_path])


def test_the_longest_sysobjectid_prefix_wins(tmp_path):
    write(tmp_path, "ptz-900", """
name: roomcam-ptz-900
kind: camera
extends: [roomcam-camera]
match: {sys_object_id: [1.3.6.1.4.1.55555.1.1.900]}
""")  # fmt: skip
    registry = ProfileRegistry.load([tmp_path])
    assert registry.select("1.3.6.1.4.1.55555.1.1.900", "").name == "roomcam-ptz-900"
    assert registry.select("1.3.6.1.4.1.55555.1.1.200", "").name == "roomcam-camera"


def test_an_unknown_profile_name_lists_the_known_ones(profile_registry):
    with pytest.raises(ProfileError, match="generic-system"):
        profile_registry.get("no-such-profile")


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("15 PERCENT", "pct", 15.0),
        ("512 MB", "bytes", 512 * 2**20),
        ("1.5GB", "bytes", 1.5 * 2**30),
        ("4096 Kbps", "kbps", 4096.0),
        ("4.5 Mbps", "kbps", 4500.0),
        ("90 min", "s", 5400.0),
        ("42", "c", 42.0),
        ("42 C\x00", "c", 42.0),
        ("512 MB", "pct", None),  # a unit of another kind
        ("lots", "bytes", None),
        ("12 parsecs", "s", None),
        # QNAP's hdTable gives a value twice: the first reading counts.
        ("28 C/82 F", "c", 28.0),
        ("30 C (86 F)", "c", 30.0),
        ("82 F/28 C", "c", None),  # Fahrenheit first: not a unit roomwatch converts
        ("4 kbit/s", "bps", 4000.0),  # a slash inside a unit is still that unit
        ("5/7", "pct", None),  # a fraction is not a first reading
    ],
)
def test_strings_with_units_become_numbers_in_the_names_unit(text, unit, expected):
    assert parse_quantity(text, unit) == expected


def test_scale_enum_and_string_conversions():
    tenths = MetricSpec(name="temperature_c", oid="1.3.6.1.4.1.55555.2.1.0", scale=0.1)
    assert tenths.number(415, tenths.scale) == pytest.approx(41.5)
    assert tenths.number("garbage", tenths.scale) is None
    source = MetricSpec(name="on_battery", oid="1.3.6.1.2.1.33.1.4.1.0", type="enum",
                        enum={3: 0, 5: 1})  # fmt: skip
    assert (source.number(5, 1.0), source.number(3, 1.0), source.number(9, 1.0)) == (1, 0, None)
    bitrate = MetricSpec(name="stream_bitrate_kbps", oid="1.3.6.1.4.1.55555.2.4.0", type="string")
    assert bitrate.number("8 Mbps", 1.0) == 8000.0
    assert bitrate.number(Counter(5, 32), 1.0) is None


def test_the_example_in_the_profiles_doc_is_a_valid_profile(tmp_path):
    doc = (Path(__file__).parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")
    example = doc.split("## File format", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    write(tmp_path, "lecture-dsp", example)
    profile = ProfileRegistry.load([tmp_path]).select("1.3.6.1.4.1.99999.2.5", "", "audio")
    assert (profile.name, [m.name for m in profile.metrics]) == (
        "lecture-dsp", ["uptime_s", "temperature_c"],
    )  # fmt: skip
