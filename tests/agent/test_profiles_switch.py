"""Switch profiles on recordings of real switches (tests/fixtures/snmprec/switch-*.snmprec).

Every expected value is read by hand off the recording's line (the OID is in the comment).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.rules.engine import RuleEngine, State
from roomwatch.collector.rules.model import load_rules

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_hpe_comware_switch_cpu_memory_temperature(poll_recording):
    polled = await poll_recording("switch-hpe-5900af-comware", kind="switch")
    assert polled.profile == "switch-h3c-comware"  # sysObjectID 1.3.6.1.4.1.25506.11.1.120
    m = polled.sample.metrics
    assert m["cpu_pct"] == 5  # hh3cEntityExtCpuUsage.192 (the board), others 0
    assert m["mem_used_pct"] == 32  # hh3cEntityExtMemUsage.192
    # hh3cEntityExtTemperature: 42 on the board (.192) and sensor (.202); the 65535 of the
    # entities without a sensor is no reading, not a 65535 degree switch.
    assert m["temperature_c"] == 42


async def test_huawei_s5720_cpu_memory_temperature(poll_recording):
    polled = await poll_recording("switch-huawei-s5720-56c-pwr", kind="switch")
    assert polled.profile == "switch-huawei-vrp"  # sysObjectID 1.3.6.1.4.1.2011.2.23.291
    m = polled.sample.metrics
    assert m["cpu_pct"] == 44  # hwEntityCpuUsage.67108873 (MPU Board 0)
    assert m["mem_used_pct"] == 9  # hwEntityMemUsage.67108873
    assert m["temperature_c"] == 42  # hwEntityTemperature.67108873


async def test_unknown_poe_switch_falls_back_to_the_switch_profile_and_reads_its_pse(
    poll_recording,
):
    # Zyxel (1.3.6.1.4.1.890) has no vendor profile: the kind's standard profile reads it.
    polled = await poll_recording("switch-zyxel-xs1930-12hp", kind="switch")
    assert polled.profile == "switch"
    assert polled.rows("poe_pse") == {
        "1": {"power_w": 375, "oper_on": 1, "used_w": 11, "usage_threshold_pct": 95}
    }  # pethMainPsePower 375, OperStatus on(1), ConsumptionPower 11, UsageThreshold 95
    assert polled.sample.metrics["poe_budget_w"] == 375
    assert polled.sample.metrics["poe_used_w"] == 11


async def test_poe_ports_are_rows_per_pse_port(poll_recording):
    polled = await poll_recording("switch-linksys-lgs318p", kind="switch")
    assert polled.profile == "switch"  # sysDescr "... PoE+ Smart Switch"
    ports = polled.rows("poe_ports")
    assert len(ports) == 18  # pethPsePortAdminEnable rows 1.49 .. 1.66
    assert ports["1.49"] == {"admin_enabled": 0}  # false(2)
    assert ports["1.62"] == {"admin_enabled": 1}  # true(1)
    # This switch serves no pethPsePortDetectionStatus: no "delivering" is invented.
    assert not any("delivering" in row for row in ports.values())


def poe_sample(delivering: float, status: int):
    row = TableRow(
        labels={"pse_port": "1.5"}, metrics={"delivering": delivering, "detection_status": status}
    )
    return DeviceSample(device="sw1", kind="switch", reachable=True, tables={"poe_ports": [row]})


def test_a_port_that_stops_delivering_poe_fires_and_an_empty_port_never_does():
    engine = RuleEngine([r for r in load_rules() if r.id == "poe_port_power_lost"])
    t = datetime(2026, 3, 2, tzinfo=UTC)

    def state(sample, minute):
        [verdict] = engine.evaluate("room-1", sample, t + timedelta(minutes=minute))
        return verdict.state

    assert state(poe_sample(1, 3), 0) is State.CLEAR  # deliveringPower(3)
    assert state(poe_sample(0, 2), 1) is State.FIRE  # searching(2): the camera lost power
    empty = poe_sample(0, 2).model_copy(update={"device": "sw2"})
    assert all(v.state is not State.FIRE for v in engine.evaluate("room-1", empty, t))
