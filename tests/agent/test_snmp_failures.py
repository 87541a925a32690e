"""Dead, slow and garbage devices: each fails alone, quickly, quietly, and recovers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from roomwatch.agent.config import DeviceConfig
from roomwatch.collector.demo.simdevice import ptz_camera, ups
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
DEAD_TIMEOUT_S = 0.8
MODEL_OID = "1.3.6.1.4.1.55555.3.1.0"


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def poll_until_answered(poller, attempts: int = 5):
    """After plug(), snmpd first works through requests queued while it was stopped."""
    for _ in range(attempts):
        [sample] = await poller.poll_all()
        if sample.reachable:
            return sample
    raise AssertionError(f"no answer in {attempts} polls")


async def arrival_times(poller) -> dict[str, tuple[float, object]]:
    """Seconds from the start of the cycle at which each device's sample arrived."""
    started = time.perf_counter()
    return {s.device: (time.perf_counter() - started, s) async for s in poller.poll_as_completed()}


async def test_an_unplugged_device_does_not_delay_a_healthy_one(sim_devices, profile_registry):
    [dead, healthy] = sim_devices(ptz_camera("dead"), ups("healthy"))
    poller = make_poller([dead, healthy], profile_registry, dead={"timeout_s": DEAD_TIMEOUT_S})
    try:
        await poller.poll_all()  # both identified while reachable
        dead.unplug()
        arrivals = await arrival_times(poller)
    finally:
        poller.close()
    healthy_s, healthy_sample = arrivals["healthy"]
    dead_s, dead_sample = arrivals["dead"]
    assert healthy_sample.reachable and healthy_sample.metrics["load_pct"] == 32
    assert healthy_s < DEAD_TIMEOUT_S  # not held up by the dead device's timeout
    assert (dead_sample.reachable, dead_sample.error, dead_sample.metrics) == (False, "timeout", {})
    assert DEAD_TIMEOUT_S <= dead_s < DEAD_TIMEOUT_S * 2  # given up within its own timeout


async def test_poll_all_waits_for_dead_devices_side_by_side(sim_devices, profile_registry):
    dead_count = 6
    devices = sim_devices(*(ptz_camera(f"cam{i}") for i in range(dead_count)), ups("ups1"))
    poller = make_poller(devices, profile_registry, timeout_s=DEAD_TIMEOUT_S)
    try:
        for camera in devices[:dead_count]:
            camera.unplug()
        started = time.perf_counter()
        samples = await poller.poll_all()
        elapsed_s = time.perf_counter() - started
    finally:
        poller.close()
    assert [s.device for s in samples] == [*(f"cam{i}" for i in range(dead_count)), "ups1"]
    assert [s.reachable for s in samples] == [False] * dead_count + [True]
    # One after another they would take dead_count timeouts; side by side about one.
    assert elapsed_s < dead_count * DEAD_TIMEOUT_S / 2


async def test_concurrency_bounds_how_many_devices_are_asked_at_once(sim_devices, profile_registry):
    [dead, healthy] = sim_devices(ptz_camera("dead"), ups("healthy"))
    poller = make_poller([dead, healthy], profile_registry, timeout_s=DEAD_TIMEOUT_S,
                         concurrency=1)  # fmt: skip
    try:
        dead.unplug()
        arrivals = await arrival_times(poller)
    finally:
        poller.close()
    assert arrivals["healthy"][0] >= DEAD_TIMEOUT_S  # one at a time: it waited its turn


async def test_a_garbage_answering_device_fails_alone(sim_devices, profile_registry):
    loop = asyncio.get_running_loop()

    class Garbage(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.transport.sendto(b"\x30\x03\x02\x01\xff not snmp", addr)

    transport, _ = await loop.create_datagram_endpoint(Garbage, local_addr=("127.0.0.1", 0))
    garbage_port = transport.get_extra_info("sockname")[1]
    wrong_types = ptz_camera("odd-cam")  # a temperature that is text, a rate that is a string
    del wrong_types.values["temperature_c"], wrong_types.values["dropped_frames_per_s"]
    wrong_types.raw["1.3.6.1.4.1.55555.2.1.0"] = ("octet_str", "hot")
    wrong_types.raw["1.3.6.1.4.1.55555.2.5.0"] = ("octet_str", "many")
    [healthy, odd] = sim_devices(ups("healthy"), wrong_types)
    garbage = DeviceConfig(id="garbage", kind="camera", address="127.0.0.1", port=garbage_port)
    poller = make_poller([healthy, odd], profile_registry, timeout_s=DEAD_TIMEOUT_S,
                         others=[garbage])  # fmt: skip
    try:
        await poller.poll_all()
        samples = {s.device: s for s in await poller.poll_all()}
    finally:
        poller.close()
        transport.close()
    assert (samples["garbage"].reachable, samples["garbage"].error) == (False, "timeout")
    assert samples["healthy"].reachable and samples["healthy"].metrics["on_battery"] == 0
    odd_sample = samples["odd-cam"]
    assert odd_sample.reachable and odd_sample.metrics["stream_fps"] == 25
    assert "temperature_c" not in odd_sample.metrics
    assert "dropped_frames_per_s" not in odd_sample.metrics


async def test_a_device_back_from_unreachable_is_identified_again(sim_devices, profile_registry):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, timeout_s=DEAD_TIMEOUT_S)
    try:
        [before] = await poller.poll_all()
        await camera.set_raw_async({MODEL_OID: ("octet_str", "PTZ-300")})  # swapped on site
        [cached] = await poller.poll_all()
        camera.unplug()
        [gone] = await poller.poll_all()
        camera.plug()
        back = await poll_until_answered(poller)
    finally:
        poller.close()
    assert (before.model, cached.model, gone.reachable, back.model) == (
        "PTZ-200", "PTZ-200", False, "PTZ-300",
    )  # fmt: skip


async def test_identify_lists_an_unreachable_device_as_configured(sim_devices, profile_registry):
    [camera] = sim_devices(ptz_camera("cam1"))
    poller = make_poller([camera], profile_registry, timeout_s=DEAD_TIMEOUT_S,
                         cam1={"model": "PTZ-200 (inventory)", "parent": "host"})  # fmt: skip
    try:
        camera.unplug()
        [info] = await poller.identify()
    finally:
        poller.close()
    assert (info.device, info.kind, info.model, info.parent) == (
        "cam1", "camera", "PTZ-200 (inventory)", "host",
    )  # fmt: skip
    assert info.profile is None and info.sys_descr is None


async def test_one_log_line_when_failing_one_when_back_and_never_the_community(
    sim_devices, profile_registry, caplog
):
    secret = "s3cret-community-42"
    spec = ptz_camera("cam1")
    spec.community = secret
    [camera] = sim_devices(spec)
    poller = make_poller([camera], profile_registry, timeout_s=0.3)
    caplog.set_level(logging.DEBUG)
    try:
        await poller.poll_all()
        camera.unplug()
        for _ in range(3):
            await poller.poll_all()
        camera.plug()
        await poll_until_answered(poller)
        for _ in range(2):
            await poller.poll_all()
    finally:
        poller.close()
    ours = [r for r in caplog.records if r.name.startswith("roomwatch.agent.snmp")]
    assert [(r.levelname, r.getMessage()) for r in ours] == [
        ("WARNING", f"device cam1 (127.0.0.1:{camera.port}) not answering: timeout"),
        ("INFO", "device cam1 answers again"),
    ]
    assert secret not in caplog.text
    assert poller.stats.timeouts >= 3 and poller.stats.polls >= 7


async def test_a_cycle_deadline_reports_late_devices_and_keeps_the_rest(
    sim_devices, profile_registry
):
    [slow, healthy] = sim_devices(ptz_camera("slow"), ups("healthy"))
    poller = make_poller([slow, healthy], profile_registry, slow={"timeout_s": 5.0})
    try:
        slow.unplug()
        started = time.perf_counter()
        samples = await poller.poll_all(deadline_s=DEAD_TIMEOUT_S)
        elapsed_s = time.perf_counter() - started
    finally:
        poller.close()
    assert elapsed_s < 5.0  # the slow device's own timeout did not hold the cycle
    assert [(s.device, s.reachable, s.error) for s in samples] == [
        ("slow", False, "timeout"), ("healthy", True, None),
    ]  # fmt: skip
