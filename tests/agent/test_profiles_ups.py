"""UPS profiles on recordings of real UPS (tests/fixtures/snmprec/ups-*.snmprec).

Every expected value is read by hand off the recording's line (the OID is in the comment),
converted as the MIB says; none is copied from the agent's output.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from roomwatch.collector.rules.engine import RuleEngine, State
from roomwatch.collector.rules.model import load_rules

pytestmark = pytest.mark.anyio

UPS_RULES = ("ups_on_battery", "ups_battery_replace")


@pytest.fixture
def anyio_backend():
    return "asyncio"


def firing(sample) -> set[str]:
    """The built-in UPS rules that fire on one sample."""
    verdicts = RuleEngine(load_rules()).evaluate("room-1", sample, datetime(2026, 3, 2, tzinfo=UTC))
    return {v.rule.id for v in verdicts if v.rule.id in UPS_RULES and v.state is State.FIRE}


async def test_apc_smart_ups_x_750_on_mains(poll_recording):
    polled = await poll_recording("ups-apc-smart-ups-x-750", kind="ups")
    assert polled.profile == "ups-apc"  # sysObjectID 1.3.6.1.4.1.318.1.3.27
    assert polled.identity.model == "Smart-UPS X 750"  # upsBasicIdentModel
    assert polled.identity.firmware == "UPS 09.9 (ID20)"  # upsAdvIdentFirmwareRevision
    m = polled.sample.metrics
    assert m["on_battery"] == 0  # upsBasicOutputStatus 2 = onLine
    assert m["battery_replace"] == 0  # upsAdvBatteryReplaceIndicator 1 = no
    # upsAdvBatteryRunTimeRemaining 1637400 TimeTicks = 16374 s = 272.9 min
    assert m["battery_minutes_remaining"] == pytest.approx(272.9)
    assert m["battery_charge_pct"] == pytest.approx(100.0)  # upsHighPrecBatteryCapacity 1000
    assert m["battery_temperature_c"] == pytest.approx(20.9)  # upsHighPrecBatteryTemperature 209
    assert m["battery_voltage_v"] == pytest.approx(54.5)  # upsHighPrecBatteryActualVoltage 545
    assert m["input_voltage_v"] == pytest.approx(246.0)  # upsHighPrecInputLineVoltage 2460
    assert m["output_voltage_v"] == pytest.approx(246.1)  # upsHighPrecOutputVoltage 2461
    assert m["load_pct"] == pytest.approx(76.2)  # upsHighPrecOutputLoad 762
    assert "battery_status" not in m  # upsBasicBatteryStatus is not served by this card
    assert firing(polled.sample) == set()


async def test_apc_smart_ups_1500_rm_is_chosen_by_the_smartups_family_oid(poll_recording):
    polled = await poll_recording("ups-apc-smart-ups-1500-rm", kind="ups")
    assert polled.profile == "ups-apc"  # sysObjectID 1.3.6.1.4.1.318.1.3.2.7
    m = polled.sample.metrics
    assert m["on_battery"] == 0  # upsBasicOutputStatus 2
    # upsAdvBatteryRunTimeRemaining 396000 TimeTicks = 3960 s = 66 min
    assert m["battery_minutes_remaining"] == pytest.approx(66.0)
    assert m["load_pct"] == pytest.approx(16.9)  # upsHighPrecOutputLoad 169
    assert m["input_voltage_v"] == pytest.approx(239.0)  # upsHighPrecInputLineVoltage 2390
    assert m["battery_replace"] == 0


async def test_netagent_card_in_an_invt_ups(poll_recording):
    polled = await poll_recording("ups-netagent2-invt", kind="ups")
    assert polled.profile == "ups-netagent"  # sysObjectID .1.3.6.1.4.1.935 (leading dot)
    assert polled.identity.vendor == "INVT CO., LTD"  # UPS-MIB upsIdentManufacturer
    m = polled.sample.metrics
    assert m["output_status"] == 9  # upsBaseOutputStatus onBuck(9): mains too high, trimmed
    assert m["on_battery"] == 0
    assert m["battery_status"] == 2  # upsBaseBatteryStatus batteryNormal
    assert m["battery_low"] == 0
    assert m["battery_charge_pct"] == 100  # upsSmartBatteryCapacity
    assert m["temperature_c"] == pytest.approx(25.0)  # upsSmartBatteryTemperature 250
    assert m["input_voltage_v"] == pytest.approx(254.5)  # upsSmartInputLineVoltage 2545
    assert m["output_voltage_v"] == pytest.approx(228.5)  # upsSmartOutputVoltage 2285
    assert m["load_pct"] == 44  # upsSmartOutputLoad
    # Not served by this card: no invented value.
    assert "battery_minutes_remaining" not in m  # upsSmartBatteryRunTimeRemaining
    assert "battery_replace" not in m  # upsSmartBatteryReplaceIndicator
    assert firing(polled.sample) == set()


async def test_eaton_powerware_9130(poll_recording):
    polled = await poll_recording("ups-eaton-powerware-9130", kind="ups")
    assert polled.profile == "ups-eaton-xups"  # sysObjectID 1.3.6.1.4.1.534.1
    assert polled.identity.model == "PW9130 1000VA-R"  # xupsIdentModel, trailing blanks cut
    m = polled.sample.metrics
    assert m["on_battery"] == 0  # xupsOutputSource normal(3)
    assert m["battery_replace"] == 0  # no xupsAlarmBatteryBad row (the alarm table is empty)
    assert m["battery_abm_status"] == 4  # xupsBatteryAbmStatus batteryResting
    # xupsBatTimeRemaining 1948 s = 32.47 min
    assert m["battery_minutes_remaining"] == pytest.approx(1948 / 60)
    assert m["battery_charge_pct"] == 100  # xupsBatCapacity
    assert m["ambient_temperature_c"] == 25  # xupsEnvAmbientTemp
    assert m["input_voltage_v"] == 234  # xupsInputVoltage.1
    assert m["output_voltage_v"] == 229  # xupsOutputVoltage.1
    assert m["load_pct"] == 35  # xupsOutputLoad
    assert firing(polled.sample) == set()


async def test_a_ups_without_a_vendor_profile_falls_back_to_ups_mib_by_its_kind(poll_recording):
    # Minuteman (sysObjectID 1.3.6.1.4.1.2254.2.4): no roomwatch profile has that vendor.
    polled = await poll_recording("ups-minuteman-e1500rtxl2u", kind="ups")
    assert polled.profile == "ups-rfc1628"
    m = polled.sample.metrics
    assert m["on_battery"] == 0  # upsOutputSource normal(3)
    assert m["battery_replace"] == 0  # no upsAlarmBatteryBad row
    assert m["battery_low"] == 0  # upsBatteryStatus batteryNormal(2)
    assert m["battery_minutes_remaining"] == 22  # upsEstimatedMinutesRemaining
    assert m["battery_charge_pct"] == 100  # upsEstimatedChargeRemaining
    assert m["battery_temperature_c"] == 23  # upsBatteryTemperature
    assert m["input_voltage_v"] == 121  # upsInputVoltage.1
    assert m["output_voltage_v"] == 121  # upsOutputVoltage.1
    assert m["load_pct"] == 79  # upsOutputPercentLoad.1
    # upsIdentManufacturer is served without its .0 instance: the vendor stays unknown.
    assert polled.identity.vendor is None
    assert firing(polled.sample) == set()


async def test_a_huawei_ups_is_read_as_a_ups_although_huawei_also_makes_switches(
    poll_recording,
):
    # sysObjectID 1.3.6.1.4.1.2011.6.174.4.1.2.4: only the switch profile's bare Huawei
    # enterprise prefix (1.3.6.1.4.1.2011) matches it, which names a maker, not a product.
    polled = await poll_recording("ups-huawei-ups2000", kind="ups")
    assert polled.profile == "ups-rfc1628"
    assert (polled.identity.vendor, polled.identity.model) == ("HUAWEI", "UPS2000 6kVA")
    assert polled.identity.firmware == "V100R001C00SPC602"  # upsIdentUPSSoftwareVersion
    m = polled.sample.metrics
    assert m["on_battery"] == 0  # upsOutputSource normal(3)
    assert m["battery_replace"] == 0  # no alarm table rows
    assert m["battery_charge_pct"] == 100  # upsEstimatedChargeRemaining
    assert m["battery_temperature_c"] == 21  # upsBatteryTemperature
    assert m["input_voltage_v"] == 233  # upsInputVoltage.1
    assert m["output_voltage_v"] == 230  # upsOutputVoltage.1
    assert m["load_pct"] == 27  # upsOutputPercentLoad.1
    # upsEstimatedMinutesRemaining 4294967295 (Gauge32 maximum) is no estimate, not 8000 years.
    assert "battery_minutes_remaining" not in m
    assert firing(polled.sample) == set()


async def test_a_low_battery_in_a_power_cut_is_on_battery_not_a_battery_to_replace(
    poll_recording,
):
    polled = await poll_recording("ups-minuteman-e1500rtxl2u-on-battery-low", kind="ups")
    assert polled.profile == "ups-rfc1628"
    m = polled.sample.metrics
    assert m["on_battery"] == 1  # upsOutputSource battery(5)
    assert m["on_battery_s"] == 540  # upsSecondsOnBattery
    assert m["battery_status"] == 3  # upsBatteryStatus batteryLow(3)
    assert m["battery_low"] == 1
    assert m["battery_minutes_remaining"] == 4
    assert m["battery_charge_pct"] == 18
    # The alarm table lists onBattery and lowBattery, not batteryBad.
    assert m["battery_replace"] == 0
    assert firing(polled.sample) == {"ups_on_battery"}
