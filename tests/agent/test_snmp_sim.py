"""The simulated devices the tests, demo and benchmarks stand on: real snmpd processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from roomwatch.collector.demo import simdevice
from roomwatch.collector.demo.simdevice import (
    SimulatedDevice,
    SimulatorError,
    poe_switch,
    ptz_camera,
    room_device_spec,
    room_kit,
)
from roomwatch.collector.demo.simkit import NVR_DISK
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


async def test_every_ready_made_spec_is_served_and_picked_up_by_its_profile(
    sim_devices, profile_registry
):
    specs = [*room_kit("r1"), room_device_spec("projector", name="r1-proj1")]
    devices = sim_devices(*specs)
    poller = make_poller(devices, profile_registry)
    try:
        infos = await poller.identify()
        samples = await poller.poll_all()
    finally:
        poller.close()
    assert [i.profile for i in infos] == [s.profile for s in specs]
    assert all(s.reachable and s.metrics for s in samples)
    assert {s.kind for s in samples} == {"camera", "encoder", "switch", "ups", "nas", "projector"}


async def test_the_room_kit_is_read_through_the_real_families_profiles(
    sim_devices, profile_registry
):
    # No profile is named in the config: each is chosen by sysObjectID, sysDescr or a probe.
    specs = room_kit("r1")
    devices = sim_devices(*specs)
    poller = make_poller(devices, profile_registry)
    try:
        infos = await poller.identify()
        samples = {s.device: s for s in await poller.poll_all()}
    finally:
        poller.close()
    assert [i.profile for i in infos] == [
        "camera-axis", "camera-hikvision", "nvr-hikvision", "switch-huawei-vrp", "ups-apc",
        "nas-synology",
    ]  # fmt: skip
    assert samples["r1-cam1"].metrics["temperature_c"] == 41
    assert samples["r1-cam1"].metrics["stream_up"] == 1
    assert samples["r1-cam2"].metrics["cpu_pct"] == 15  # "15 PERCENT"
    [disk] = samples["r1-enc1"].tables["storage"]
    assert disk.labels == {"storage": "1.0"} and disk.metrics["used_pct"] == pytest.approx(41, 0.01)
    ups = samples["r1-ups1"].metrics
    assert (ups["on_battery"], ups["battery_minutes_remaining"], ups["load_pct"]) == (0, 42, 32)
    delivering = [r.metrics["delivering"] for r in samples["r1-sw1"].tables["poe_ports"]]
    assert delivering == [1, 1, 1, 1, 1, 0, 0, 0]
    assert samples["r1-nas1"].metrics["temperature_c"] == 40
    [volume] = samples["r1-nas1"].tables["storage"]
    assert volume.metrics["used_pct"] == pytest.approx(62, 0.01)


async def test_a_demo_recorder_disk_filling_is_read_as_storage_used(sim_devices, profile_registry):
    [nvr] = sim_devices(room_device_spec("encoder", name="enc1"))
    poller = make_poller([nvr], profile_registry)
    try:
        await poller.identify()
        nvr.set_rows("storage", {NVR_DISK: {"used_pct": 96.0}})
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    [disk] = sample.tables["storage"]
    assert disk.metrics["used_pct"] == pytest.approx(96, 0.01)
    [row] = sample.tables["disks"]
    assert row.metrics["free_pct"] == pytest.approx(4, 0.01)


def test_stop_kills_the_process_even_when_unplugged_and_removes_its_files(profile_registry):
    device = SimulatedDevice(ptz_camera("cam1"), profile_registry).start()
    pid, workdir = device.pid, device._workdir
    assert pid is not None and workdir is not None and device.plugged
    device.unplug()
    assert not device.plugged and device.running
    device.stop()
    assert not alive(pid) and not workdir.exists() and not device.running


def test_a_given_workdir_keeps_config_and_log(tmp_path, profile_registry):
    with SimulatedDevice(ptz_camera("cam1"), profile_registry, workdir=tmp_path / "cam1"):
        config = (tmp_path / "cam1" / "device.conf").read_text()
    assert "override -rw .1.3.6.1.4.1.55555.2.1.0 integer 415" in config
    assert (tmp_path / "cam1" / "snmpd.log").exists()


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_snmpd_outlives_the_python_process_that_started_it(tmp_path, ending):
    script = textwrap.dedent("""
        import os, signal, sys, time
        from roomwatch.collector.demo.simdevice import SimulatedDevice, ptz_camera
        device = SimulatedDevice(ptz_camera("cam1")).start()
        print(device.pid, flush=True)
        if sys.argv[1] == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script, ending], capture_output=True,
                          text=True, timeout=30, cwd=os.getcwd())  # fmt: skip
    pid = int(done.stdout.split()[0])
    try:
        assert wait_gone(pid), f"snmpd {pid} outlived its parent ({ending})"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_missing_snmpd_is_an_error_naming_the_package(monkeypatch, profile_registry):
    monkeypatch.setattr(simdevice.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(SimulatorError, match="Debian package 'snmpd'"):
        SimulatedDevice(ptz_camera("cam1"), profile_registry).start()


def test_values_are_encoded_the_way_the_profile_reads_them(profile_registry):
    device = SimulatedDevice(poe_switch("sw1", ports=2), profile_registry)
    served = device.served
    assert served["1.3.6.1.2.1.2.2.1.8.2"] == ("integer", 1)  # ifOperStatus up(1)
    assert served["1.3.6.1.2.1.31.1.1.1.1.2"] == ("octet_str", "port2")  # ifName
    assert served["1.3.6.1.2.1.2.2.1.10.2"] == ("counter", 2_000_000)  # 32-bit ifInOctets
    assert served["1.3.6.1.2.1.31.1.1.1.15.1"] == ("integer", 1000)  # ifHighSpeed


async def test_set_values_works_from_sync_and_async_code(sim_devices, profile_registry):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry)
    try:
        camera.set_values({"temperature_c": 47.3, "stream_bitrate_kbps": 2048})  # in a loop
        [first] = await poller.poll_all()
        await camera.set_values_async({"stream_up": 0})
        [second] = await poller.poll_all()
    finally:
        poller.close()
    assert first.metrics["temperature_c"] == pytest.approx(47.3)
    assert first.metrics["stream_bitrate_kbps"] == 2048  # served as "2048 kbps"
    assert (second.metrics["stream_up"], second.metrics["stream_status"]) == (0, 1)


def test_setting_what_the_device_cannot_serve_is_refused(sim_devices):
    [camera] = sim_devices(ptz_camera("cam1"))
    with pytest.raises(SimulatorError, match=r"no metric 'fps'.*stream_fps"):
        camera.set_values({"fps": 25})
    with pytest.raises(SimulatorError, match="not served since start"):
        camera.set_raw({"1.3.6.1.4.1.55555.9.9.0": ("integer", 1)})
    with pytest.raises(SimulatorError, match="no raw value maps to 7"):
        camera.set_values({"stream_up": 7})
    camera.unplug()
    with pytest.raises(SimulatorError, match="timeout"):
        camera.set_values({"temperature_c": 40})
