"""The SNMP client on its own: batched GETs, GETBULK walks, SETs, and what fails how."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from roomwatch.agent.config import SnmpCredential
from roomwatch.agent.snmp.client import Counter, SnmpClient, SnmpError, SnmpTarget
from roomwatch.collector.demo.simdevice import CONTROL_COMMUNITY, poe_switch

pytestmark = pytest.mark.anyio
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def switch(sim_devices):
    [device] = sim_devices(poe_switch("sw1", ports=30))
    return device


def target_of(device, timeout_s: float = 0.5) -> SnmpTarget:
    return SnmpTarget(*device.address, credential=device.credential(), timeout_s=timeout_s,
                      retries=0)  # fmt: skip


async def test_a_get_of_many_oids_is_split_into_pdus_and_returns_them_all(switch):
    client = SnmpClient(oids_per_get=7)
    oids = [f"{column}.{port}" for column in (IF_NAME, IF_IN_OCTETS) for port in range(1, 31)]
    try:
        found = await client.get(target_of(switch), [*oids, "1.3.6.1.4.1.55555.99.0"])
    finally:
        client.close()
    assert len(found) == 60  # the OID the device does not serve is left out
    assert found[f"{IF_NAME}.30"] == "port30"
    assert found[f"{IF_IN_OCTETS}.2"] == Counter(2_000_000, 32)


async def test_walking_columns_together_returns_every_row_of_each(switch):
    client = SnmpClient(max_repetitions=3)
    try:
        columns = await client.walk_columns(
            target_of(switch), [IF_NAME, IF_OPER_STATUS, "1.3.6.1.2.1.2.2.1.99"]
        )
    finally:
        client.close()
    assert list(columns[IF_NAME]) == [str(i) for i in range(1, 31)]
    assert columns[IF_OPER_STATUS]["5"] == 1 and columns[IF_OPER_STATUS]["6"] == 2
    assert columns["1.3.6.1.2.1.2.2.1.99"] == {}  # a column the device does not have


async def test_failures_are_short_reasons_and_never_show_the_community(switch):
    client = SnmpClient()
    try:
        switch.unplug()
        with pytest.raises(SnmpError) as timed_out:
            await client.get(target_of(switch, timeout_s=0.2), [f"{IF_NAME}.1"])
        switch.plug()
        control = SnmpTarget(
            *switch.address, SnmpCredential(community=SecretStr(CONTROL_COMMUNITY))
        )
        with pytest.raises(SnmpError) as wrong_type:
            await client.set(control, {f"{IF_NAME}.1": ("integer", 5)})  # it is a string
    finally:
        client.close()
    assert timed_out.value.reason == "timeout"
    assert wrong_type.value.reason == "wrongType"
    assert "public" not in str(timed_out.value) + str(wrong_type.value)
