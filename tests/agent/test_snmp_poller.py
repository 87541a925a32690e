"""The poller against real snmpd devices: what it returns equals what the device serves."""

from __future__ import annotations

import pytest

from roomwatch.agent.errors import ProfileError
from roomwatch.collector.demo.simdevice import (
    DeviceSpec,
    SimRow,
    encoder,
    nas,
    poe_switch,
    ptz_camera,
    ups,
)
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_SPEED = "1.3.6.1.2.1.2.2.1.5"


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_camera_values_come_back_scaled_parsed_and_mapped(sim_devices, profile_registry):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry)
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert (sample.device, sample.kind, sample.model, sample.reachable) == (
        "cam1", "camera", "PTZ-200", True,
    )  # fmt: skip
    assert sample.rtt_ms is not None and sample.rtt_ms > 0
    assert sample.metrics == {
        "uptime_s": 86_400.0,
        "temperature_c": pytest.approx(41.5),  # served as the INTEGER 415
        "stream_status": 2.0,
        "stream_up": 1.0,  # enum: streaming(2) -> 1
        "stream_fps": 25.0,
        "stream_bitrate_kbps": 4096.0,  # "4096 Kbps"
        "memory_free_bytes": 512 * 2**20,  # "512 MB"
    }
    assert camera.served["1.3.6.1.4.1.55555.2.1.0"] == ("integer", 415)


async def test_ups_values_follow_the_device(sim_devices, profile_registry):
    [device] = sim_devices(ups("ups1"))
    poller = make_poller([device], profile_registry)
    try:
        [healthy] = await poller.poll_all()
        await device.set_values_async(
            {"on_battery": 1, "battery_status": 3, "battery_minutes_remaining": 7,
             "battery_charge_pct": 18, "load_pct": 64}
        )  # fmt: skip
        [on_battery] = await poller.poll_all()
    finally:
        poller.close()
    assert healthy.metrics["on_battery"] == 0 and healthy.metrics["battery_replace"] == 0
    assert healthy.metrics["battery_temperature_c"] == 28
    # A battery run low in a power cut is low, not one to replace: replacing is the UPS-MIB
    # alarm table's batteryBad row, which a low battery does not raise.
    assert {k: on_battery.metrics[k] for k in (
        "on_battery", "battery_status", "battery_low", "battery_replace",
        "battery_minutes_remaining", "battery_charge_pct", "load_pct")} == {
        "on_battery": 1, "battery_status": 3, "battery_low": 1, "battery_replace": 0,
        "battery_minutes_remaining": 7, "battery_charge_pct": 18, "load_pct": 64,
    }  # fmt: skip
    assert device.served["1.3.6.1.2.1.33.1.4.1.0"][1] == 5  # upsOutputSource battery(5)


async def test_counters_become_rates_between_two_polls(sim_devices, profile_registry, fake_clock):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, clock=fake_clock)
    try:
        await camera.set_values_async({"dropped_frames_per_s": 1_000})
        [first] = await poller.poll_all()
        await camera.set_values_async({"dropped_frames_per_s": 1_300})
        fake_clock.now_s += 10
        [second] = await poller.poll_all()
    finally:
        poller.close()
    assert "dropped_frames_per_s" not in first.metrics  # first sight: no rate yet
    assert second.metrics["dropped_frames_per_s"] == pytest.approx(30.0)


async def test_a_32_bit_wrap_gives_the_right_rate_and_a_reset_gives_none(
    sim_devices, profile_registry, fake_clock
):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, clock=fake_clock)
    rates = []
    try:
        for total in (2**32 - 100, 400, 1_000_400, 10, 110):
            await camera.set_values_async({"dropped_frames_per_s": total})
            [sample] = await poller.poll_all()
            rates.append(sample.metrics.get("dropped_frames_per_s"))
            fake_clock.now_s += 10
    finally:
        poller.close()
    # first sight, wrap (+500), +1e6, reset to 10 (no value, never negative), +100
    assert rates == [None, 50.0, 100_000.0, None, 10.0]


async def test_a_device_restart_drops_rates_even_when_the_counter_looks_wrapped(
    sim_devices, profile_registry, fake_clock
):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, clock=fake_clock)
    try:
        await camera.set_values_async({"dropped_frames_per_s": 3_000_000_000, "uptime_s": 5000})
        await poller.poll_all()
        # Rebooted: uptime went back; 3e9 -> 5 would pass for a plausible 32-bit wrap.
        await camera.set_values_async({"dropped_frames_per_s": 5, "uptime_s": 20})
        fake_clock.now_s += 10
        [after_restart] = await poller.poll_all()
        await camera.set_values_async({"dropped_frames_per_s": 55, "uptime_s": 30})
        fake_clock.now_s += 10
        [next_poll] = await poller.poll_all()
    finally:
        poller.close()
    assert "dropped_frames_per_s" not in after_restart.metrics
    assert next_poll.metrics["dropped_frames_per_s"] == pytest.approx(5.0)


async def test_switch_ports_come_back_as_labelled_rows_with_rates(
    sim_devices, profile_registry, fake_clock
):
    [switch] = sim_devices(poe_switch("sw1", ports=24))
    # max_repetitions 4 forces many GETBULK round trips over the 24 rows.
    poller = make_poller([switch], profile_registry, clock=fake_clock, max_repetitions=4)
    try:
        [first] = await poller.poll_all()
        switch.set_rows("interfaces", {3: {"in_bytes_per_s": 3_000_000 + 125_000_000,
                                           "out_errors_per_s": 50}})  # fmt: skip
        fake_clock.now_s += 5
        [second] = await poller.poll_all()
    finally:
        poller.close()
    assert first.metrics["poe_budget_w"] == 150 and first.metrics["poe_used_w"] == 42
    rows = second.tables["interfaces"]
    assert [r.labels for r in rows[:2]] == [
        {"ifindex": "1", "ifname": "port1"}, {"ifindex": "2", "ifname": "port2"},
    ]  # fmt: skip
    assert len(rows) == 24
    by_name = {r.labels["ifname"]: r.metrics for r in rows}
    assert by_name["port5"]["oper_up"] == 1 and by_name["port6"]["oper_up"] == 0
    assert by_name["port3"]["speed_mbps"] == 1000
    assert by_name["port3"]["in_bytes_per_s"] == pytest.approx(25_000_000.0)
    assert by_name["port3"]["out_errors_per_s"] == pytest.approx(10.0)
    assert by_name["port4"]["in_bytes_per_s"] == 0.0


async def test_an_old_switch_without_ifxtable_falls_back_to_ifdescr_and_ifspeed(
    sim_devices, profile_registry
):
    rows = [
        SimRow(index=i, values={"oper_up": 1},
               raw={IF_DESCR: ("octet_str", f"FastEthernet0/{i}"), IF_SPEED: ("uinteger", 10**8)})
        for i in (1, 2)
    ]  # fmt: skip
    spec = DeviceSpec(name="old-sw", kind="switch", profile="switch", sys_descr="Old switch",
                      sys_object_id="1.3.6.1.4.1.9.1.1", tables={"interfaces": rows})  # fmt: skip
    [switch] = sim_devices(spec)
    poller = make_poller([switch], profile_registry)
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert [(r.labels["ifname"], r.metrics["speed_mbps"]) for r in sample.tables["interfaces"]] == [
        ("FastEthernet0/1", 100.0), ("FastEthernet0/2", 100.0),
    ]  # fmt: skip


async def test_storage_rows_and_average_cpu_from_host_resources(sim_devices, profile_registry):
    [nas_device, encoder_device] = sim_devices(nas("nas1"), encoder("enc1"))
    poller = make_poller([nas_device, encoder_device], profile_registry)
    try:
        await encoder_device.set_values_async({"used_pct": 93.5}, table="storage", index=2)
        [nas_sample, encoder_sample] = await poller.poll_all()
    finally:
        poller.close()
    volumes = {r.labels["storage"]: r.metrics for r in nas_sample.tables["storage"]}
    assert volumes["/mnt/tank"]["size_bytes"] == pytest.approx(8e12, rel=1e-6)
    assert volumes["/mnt/tank"]["used_pct"] == pytest.approx(62.0, abs=0.01)
    assert volumes["/mnt/tank"]["used_bytes"] == pytest.approx(0.62 * 8e12, rel=1e-4)
    assert nas_sample.metrics["cpu_pct"] == 12
    assert encoder_sample.metrics["recording_on"] == 1 and encoder_sample.metrics["cpu_pct"] == 35
    recordings = {r.labels["storage"]: r.metrics for r in encoder_sample.tables["storage"]}
    assert recordings["/record"]["used_pct"] == pytest.approx(93.5, abs=0.01)


async def test_the_profile_is_chosen_by_sysobjectid_and_reported_by_identify(
    sim_devices, profile_registry
):
    spec = ptz_camera("cam1")
    spec.kind = "video"  # a kind no profile has: the sysObjectID alone decides
    [camera, switch, ups_device] = sim_devices(spec, poe_switch("sw1"), ups("ups1"))
    poller = make_poller([camera, switch, ups_device], profile_registry)
    try:
        infos = {i.device: i for i in await poller.identify()}
    finally:
        poller.close()
    assert {d: i.profile for d, i in infos.items()} == {
        "cam1": "roomcam-camera", "sw1": "switch", "ups1": "ups-rfc1628",
    }  # fmt: skip
    cam = infos["cam1"]
    assert (cam.kind, cam.vendor, cam.model, cam.firmware) == (
        "video",
        "RoomCam",
        "PTZ-200",
        "2.4.1",
    )
    assert cam.address == f"127.0.0.1:{camera.port}"
    assert cam.sys_descr == "RoomCam PTZ-200 camera, firmware 2.4.1"
    assert (infos["ups1"].vendor, infos["ups1"].model) == ("SimPower", "SP-3000")


async def test_a_profile_named_in_the_config_wins_over_auto_selection(
    sim_devices, profile_registry
):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, cam1={"profile": "generic-system"})
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert sample.metrics == {"uptime_s": 86_400.0}


def test_an_unknown_profile_in_the_config_fails_before_any_poll(sim_devices, profile_registry):
    [camera] = sim_devices(ptz_camera("cam1"))
    with pytest.raises(ProfileError, match="no-such-profile"):
        make_poller([camera], profile_registry, cam1={"profile": "no-such-profile"})
