"""The recording simulator itself: snmpsim serves a file, the agent polls it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_a_recording_is_served_and_polled(poll_recording):
    polled = await poll_recording("net-snmp-linux-sample", kind="host")
    assert polled.sample.reachable
    assert polled.sample.metrics["uptime_s"] == pytest.approx(123.45)
