"""Slow, garbage-answering and endless-table devices never stall or crash anyone else's poll."""

from __future__ import annotations

import logging
import time

import pytest

from roomwatch.agent.snmp.client import SnmpClient, SnmpTarget, TableCutOff
from roomwatch.collector.demo.simdevice import poe_switch, ptz_camera, ups
from roomwatch.collector.demo.simfaulty import FaultyDevice, SlowProxy
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
BAD_TIMEOUT_S = 0.4
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
GARBAGE_MODES = ("random", "truncated", "wrong_request_id")


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def faulty():
    """Start badly behaved devices; all are stopped at teardown."""
    started: list[FaultyDevice | SlowProxy] = []

    def start(device):
        started.append(device.start())
        return device

    yield start
    for device in started:
        device.stop()


async def test_slow_and_garbage_devices_do_not_hold_up_healthy_ones(
    sim_devices, profile_registry, faulty, caplog
):
    [healthy_ups, healthy_cam, behind_proxy] = sim_devices(ups("ups1"), ptz_camera("cam1"),
                                                           ptz_camera("slowcam"))  # fmt: skip
    # Held back longer than the device's whole deadline (3 request budgets): never read.
    slow = faulty(SlowProxy(behind_proxy.address, delay_s=BAD_TIMEOUT_S * 2 * 3 + 0.6))
    garbage = {mode: faulty(FaultyDevice.garbage(mode)) for mode in GARBAGE_MODES}
    bad_configs = [slow.device_config("slow", kind="camera", timeout_s=BAD_TIMEOUT_S)] + [
        device.device_config(f"garbage-{mode.replace('_', '-')}", timeout_s=BAD_TIMEOUT_S)
        for mode, device in garbage.items()
    ]
    poller = make_poller([healthy_ups, healthy_cam], profile_registry, timeout_s=1.0,
                         retries=1, others=bad_configs)  # fmt: skip
    caplog.set_level(logging.DEBUG)
    try:
        samples = await poller.poll_all()  # also creates the SNMP engine (half a second)
        started = time.perf_counter()
        arrivals = {}
        async for sample in poller.poll_as_completed():
            arrivals[sample.device] = (time.perf_counter() - started, sample)
    finally:
        poller.close()
    for name in ("ups1", "cam1"):
        arrived_s, sample = arrivals[name]
        assert sample.reachable and sample.metrics, name
        assert arrived_s < 1.0  # within its own timeout, not after the bad devices' budgets
    bad = [n for n in arrivals if n not in ("ups1", "cam1")]
    assert len(bad) == 1 + len(GARBAGE_MODES)
    for name in bad:
        arrived_s, sample = arrivals[name]
        assert (sample.reachable, sample.error) == (False, "timeout"), name
        # given up within its own budget: (retries + 1) timeouts per request
        assert arrived_s < BAD_TIMEOUT_S * 2 * 3 + 0.5, name
    assert [s.reachable for s in samples] == [True, True] + [False] * len(bad)
    assert all(device.requests >= 1 for device in garbage.values())  # they were asked
    assert "Traceback" not in caplog.text and "internal error" not in caplog.text
    not_answering = [r for r in caplog.records if "not answering" in r.getMessage()]
    assert len(not_answering) == len(bad)  # one line each, for two cycles


async def test_a_slow_device_within_its_timeout_is_read_with_its_round_trip_time(
    sim_devices, profile_registry, faulty
):
    [camera] = sim_devices(ptz_camera("cam1"))
    slow = faulty(SlowProxy(camera.address, delay_s=0.15))
    poller = make_poller([], profile_registry, timeout_s=1.0,
                         others=[slow.device_config("cam1", kind="camera")])  # fmt: skip
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert sample.reachable and sample.metrics["stream_fps"] == 25
    assert sample.rtt_ms is not None and sample.rtt_ms >= 150


async def test_a_table_walk_with_oids_not_increasing_is_cut_off_with_a_clear_error(
    sim_devices, profile_registry, faulty, caplog
):
    stuck = faulty(FaultyDevice.broken_table("stuck"))
    [healthy] = sim_devices(poe_switch("sw1", ports=3))
    poller = make_poller([healthy], profile_registry, timeout_s=1.0,
                         others=[stuck.device_config("stuck-sw")])  # fmt: skip
    caplog.set_level(logging.INFO)
    try:
        for _ in range(3):
            samples = {s.device: s for s in await poller.poll_all()}
    finally:
        poller.close()
    assert len(samples["sw1"].tables["interfaces"]) == 3 and samples["sw1"].error is None
    broken = samples["stuck-sw"]
    assert broken.reachable and broken.error is not None
    assert broken.error.startswith("walk of 1.3.6.1.2.1.") and "cut off" in broken.error
    assert broken.error.endswith("(OIDs not increasing)")
    cut_off = [r.getMessage() for r in caplog.records if "cut off" in r.getMessage()]
    assert len(cut_off) == 1 and cut_off[0].startswith("device stuck-sw: walk of")  # once


async def test_an_endless_table_is_cut_off_at_the_row_limit(profile_registry, faulty):
    endless = faulty(FaultyDevice.broken_table("endless"))
    poller = make_poller(
        [], profile_registry, timeout_s=1.0, max_rows_per_table=40, max_repetitions=10,
        others=[endless.device_config("endless-sw")],
    )  # fmt: skip
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert sample.reachable
    assert sample.error is not None and "cut off at 40 rows" in sample.error
    assert "snmp.max_rows_per_table" in sample.error


async def test_walk_requests_ask_for_max_repetitions_rows_and_stop_at_the_limit(faulty):
    endless = faulty(FaultyDevice.broken_table("endless"))
    client = SnmpClient(max_repetitions=5, max_rows=12)
    target = SnmpTarget("127.0.0.1", endless.port, timeout_s=BAD_TIMEOUT_S, retries=0)
    try:
        with pytest.raises(TableCutOff) as cut:
            await client.walk_columns(target, [IF_OPER_STATUS])
    finally:
        client.close()
    assert len(cut.value.rows[IF_OPER_STATUS]) == 12  # the rows read before the cut are kept
    assert endless.requests == 3  # 5 + 5 + 5 rows asked for; 12 kept
