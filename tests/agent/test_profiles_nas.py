"""NAS profiles on recordings of real devices (Synology DSM, QNAP QTS).

Every expected value is read by hand off the recording in tests/fixtures/snmprec/.
"""

from __future__ import annotations

import pytest

from roomwatch.agent.snmp.profile import ProfileRegistry
from tests.fixtures.recordings import rules_fed

pytestmark = pytest.mark.anyio

NET_SNMP_LINUX = "1.3.6.1.4.1.8072.3.2.10"


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_synology_is_recognised_by_its_model_despite_the_linux_sysobjectid(poll_recording):
    polled = await poll_recording("nas-synology-ds214se", kind="nas")
    assert polled.identity.sys_object_id == NET_SNMP_LINUX
    assert polled.profile == "nas-synology"
    identity = polled.identity
    assert (identity.vendor, identity.model) == ("Synology", "DS214se")
    assert identity.firmware == "DSM 7.1-42962"


async def test_synology_system_disks_raid_and_volumes(poll_recording):
    polled = await poll_recording("nas-synology-ds214se", kind="nas")
    metrics = polled.sample.metrics
    assert metrics["system_ok"] == 1  # systemStatus Normal(1)
    assert metrics["temperature_c"] == 34
    assert (metrics["power_ok"], metrics["fan_ok"], metrics["cpu_fan_ok"]) == (1, 1, 1)
    assert metrics["cpu_pct"] == 33  # hrProcessorLoad, one CPU
    disks = polled.rows("disks")
    assert set(disks) == {"Disk 1/DT01ACA300", "Disk 2/DT01ACA300"}
    disk1, disk2 = disks["Disk 1/DT01ACA300"], disks["Disk 2/DT01ACA300"]
    assert (disk1["temperature_c"], disk2["temperature_c"]) == (31, 33)
    assert (disk1["failed"], disk2["failed"]) == (0, 0)  # diskStatus Normal(1)
    assert (disk1["smart_warning"], disk2["smart_warning"]) == (0, 0)
    assert (disk1["bad_sectors"], disk2["bad_sectors"]) == (0, 511)
    assert "remaining_life_pct" not in disk1  # diskRemainLife -1: not known
    raids = polled.rows("raids")
    assert raids["Volume 1"]["degraded"] == 0
    assert raids["Volume 1"]["size_bytes"] == 5943208427520
    assert raids["Volume 1"]["free_bytes"] == 5801746014208
    storage = polled.rows("storage")
    # hrStorage is kept to fixed disks: RAM, swap and buffers never count as full storage.
    assert set(storage) == {"/", "/dev/shm", "/run", "/sys/fs/cgroup", "/tmp", "/volume1"}
    assert storage["/volume1"]["used_pct"] == pytest.approx(100 * 34511122 / 1450978620)
    assert storage["/volume1"]["size_bytes"] == 1450978620 * 4096


async def test_qnap_disks_fans_power_and_volumes(poll_recording):
    polled = await poll_recording("nas-qnap-tvs871u", kind="nas")
    assert polled.profile == "nas-qnap"
    assert (polled.identity.vendor, polled.identity.model) == ("QNAP", "TVS-871U-RP")
    metrics = polled.sample.metrics
    assert metrics["temperature_c"] == 33  # enclosureSystemTemp 33 (main unit), 32 (UX-1200U)
    assert metrics["cpu_pct"] == pytest.approx((3 + 1 + 1 + 1) / 4)  # hrProcessorLoad
    disks = polled.rows("disks")
    assert len(disks) == 20  # 8 bays + 12 in the expansion unit
    assert disks["1/WDC WD6003FFBX-68MU3N0 (SATA)"]["temperature_c"] == 28
    assert all(d["failed"] == 0 and d["smart_warning"] == 0 for d in disks.values())
    fans = polled.rows("fans")
    assert fans["1"] == {"ok": 1, "speed_rpm": 4504}
    assert len(fans) == 5
    supplies = polled.rows("power_supplies")
    assert supplies["1"] == {"ok": 1}  # fan speed and temperature -1: not measured
    storage = polled.rows("storage")
    assert "Physical memory" not in storage
    assert storage["/share/CACHEDEV1_DATA"]["used_pct"] == pytest.approx(
        100 * 1004424133 / 1430382622
    )  # 70.2 %


# QNAP's older hdTable (1.3.6.1.4.1.24681.1.2.11), which QTS versions without the diskTable
# serve alone: temperatures as "28 C/82 F", capacities as "5.46 TB", read as nas-qnap's
# disk temperature fallback reads them.
QNAP_HD_TABLE = """
name: qnap-hd-table
kind: nas
tables:
  - name: hd
    labels: [{name: disk, oid: 1.3.6.1.4.1.24681.1.2.11.1.2}]   # hdDescr
    metrics:
      - {name: temperature_c, oid: 1.3.6.1.4.1.24681.1.2.11.1.3}  # hdTemperature
      - {name: size_bytes, oid: 1.3.6.1.4.1.24681.1.2.11.1.6, type: string}  # hdCapacity
"""


async def test_qnap_hd_table_temperatures_given_in_two_units_are_read_in_celsius(
    poll_recording, tmp_path
):
    (tmp_path / "qnap-hd-table.yaml").write_text(QNAP_HD_TABLE)
    registry = ProfileRegistry.load([tmp_path])
    polled = await poll_recording(
        "nas-qnap-tvs871u", kind="nas", profile="qnap-hd-table", registry=registry
    )
    hd = polled.rows("hd")
    assert {name: row["temperature_c"] for name, row in hd.items()} == {
        "HDD1": 28, "HDD2": 30, "HDD3": 30, "HDD4": 30,  # "28 C/82 F", "30 C/86 F", ...
        "HDD5": 27, "HDD6": 28, "HDD7": 28, "HDD8": 28,
    }  # fmt: skip
    assert hd["HDD1"]["size_bytes"] == pytest.approx(5.46 * 1024**4)  # "5.46 TB"


@pytest.mark.parametrize("recording", ["nas-synology-ds214se", "nas-qnap-tvs871u"])
async def test_nas_recordings_feed_the_storage_disk_and_temperature_rules(
    poll_recording, recording
):
    fed = rules_fed(await poll_recording(recording, kind="nas"), "nas")
    assert {
        "storage_nearly_full", "storage_filling", "cpu_saturated", "temperature_critical",
        "nas_disk_failed", "disk_smart_warning",
    } <= fed  # fmt: skip
    if recording.startswith("nas-synology"):
        assert {"raid_degraded", "device_reports_fault"} <= fed
