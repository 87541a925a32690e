"""Camera and recorder profiles on recordings of real devices (Hikvision, Dahua, Axis).

Every expected value is read by hand off the recording in tests/fixtures/snmprec/.
"""

from __future__ import annotations

import pytest

from tests.fixtures.recordings import rules_fed

pytestmark = pytest.mark.anyio

MB = 1024 * 1024


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_hikvision_camera_without_a_system_group_is_known_by_its_own_mib(poll_recording):
    polled = await poll_recording("camera-hikvision-ds2cd2185fwd", kind="camera")
    assert polled.profile == "camera-hikvision"
    assert polled.identity.sys_object_id is None  # the camera serves no system group
    assert (polled.identity.vendor, polled.identity.model) == ("Hikvision", "DS-2CD2185FWD-I")
    assert polled.identity.firmware == "V5.5.3 build 171025"
    metrics = polled.sample.metrics
    assert metrics["cpu_pct"] == 15  # "15 PERCENT"
    assert metrics["mem_used_pct"] == 83  # "83 PERCENT"
    assert metrics["memory_total_bytes"] == 512 * MB  # "512 MB"
    assert metrics["sd_card_size_bytes"] == 0  # "0.0 GB": no SD card fitted
    assert metrics["sd_card_used_pct"] == 0  # "0 PERCENT"


async def test_hikvision_nvr_reports_memory_and_its_disk(poll_recording):
    polled = await poll_recording("nvr-hikvision", kind="encoder")
    assert polled.profile == "nvr-hikvision"
    assert polled.identity.vendor == "Hikvision"
    metrics = polled.sample.metrics
    assert metrics["mem_used_pct"] == 5  # hikMemoryUsage
    assert metrics["uptime_s"] == pytest.approx(854471.43)  # sysUpTime 85447143
    # hikDiskTable row "1.0" (the NVR appends .0): free 2715648 MB of 3815447 MB.
    disk = polled.rows("disks")["1.0"]
    assert disk["free_bytes"] == 2715648 * MB
    assert disk["size_bytes"] == 3815447 * MB
    assert disk["free_pct"] == pytest.approx(100 * 2715648 / 3815447)  # 71.2 %
    assert "failed" not in disk  # this NVR does not serve hikDiskStatus
    # The same disk as the storage rules read it: 100 - free / capacity * 100 = 28.8 % used.
    storage = polled.rows("storage")
    assert storage["1.0"]["used_pct"] == pytest.approx(100 - 100 * 2715648 / 3815447)


async def test_dahua_nvr_reports_cpu_device_status_and_ports(poll_recording):
    polled = await poll_recording("nvr-dahua-nvr4108hs", kind="encoder")
    assert polled.profile == "nvr-dahua"
    identity = polled.identity
    assert (identity.vendor, identity.model) == ("Dahua", "DH-NVR4108HS-8P-4KS2")
    assert identity.firmware == "3.212.0000.1"
    metrics = polled.sample.metrics
    assert metrics["cpu_pct"] == 6  # cpuUsage
    assert metrics["system_ok"] == 1  # deviceStatus good(1)
    assert metrics["uptime_s"] == pytest.approx(246418.13)
    eth0 = polled.rows("interfaces")["2/eth0"]
    assert eth0["oper_up"] == 1
    assert eth0["speed_mbps"] == 100  # ifSpeed 100000000, no ifXTable


async def test_axis_camera_reports_its_hottest_sensor_and_storage(poll_recording):
    polled = await poll_recording("camera-axis-p1435le", kind="camera")
    assert polled.profile == "camera-axis"
    identity = polled.identity
    assert (identity.vendor, identity.model, identity.firmware) == ("Axis", "P1435-LE", "9.80.69")
    metrics = polled.sample.metrics
    assert metrics["temperature_c"] == 31  # tempSensorValue 24, 29, 31, 28: the hottest
    assert "stream_up" not in metrics  # the camera serves no videoChannelTable
    sensors = polled.rows("temperature_sensors")
    assert {key: row["temperature_c"] for key, row in sensors.items()} == {
        "1.1": 24, "1.2": 29, "1.3": 31, "1.4": 28,
    }  # fmt: skip
    assert all(row["ok"] == 1 for row in sensors.values())
    storage = polled.rows("storage")
    assert storage["SD_DISK"]["disrupted"] == 1  # storageDisruptionDetected yes(2)
    assert storage["NetworkShare"]["disrupted"] == 1


async def test_recorders_feed_the_recorder_rules(poll_recording):
    hikvision = await poll_recording("nvr-hikvision", kind="encoder")
    # hikDiskStatus is not served by this NVR, so recorder_disk_failed has nothing to read.
    assert {
        "uptime_long", "storage_filling", "storage_nearly_full", "storage_filling_fast"
    } <= rules_fed(hikvision, "encoder")  # fmt: skip
    dahua = await poll_recording("nvr-dahua-nvr4108hs", kind="encoder")
    fed = rules_fed(dahua, "encoder")
    assert {"cpu_saturated", "cpu_high", "device_reports_fault", "uptime_long"} <= fed


async def test_axis_camera_feeds_the_camera_temperature_rules(poll_recording):
    polled = await poll_recording("camera-axis-p1435le", kind="camera")
    assert {"temperature_warm", "temperature_critical"} <= rules_fed(polled, "camera")
