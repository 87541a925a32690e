"""Traps end to end in the agent: listener -> runner -> spool -> publisher -> broker."""

from __future__ import annotations

import asyncio
import socket

import pytest

from roomwatch.agent import wire
from roomwatch.agent.__main__ import build_runner
from roomwatch.collector.demo.simdevice import SimUser, free_udp_port, poe_switch, ups
from tests.fixtures.broker import Received

pytestmark = pytest.mark.anyio
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
UPS_ON_BATTERY = "1.3.6.1.2.1.33.2.1"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def events_of(received: list[Received]) -> list[wire.Event]:
    return [
        e for r in received if isinstance(r.message, wire.EventsMessage) for e in r.message.events
    ]


def trap_counters(received: list[Received]) -> dict[str, float]:
    """The agent's trap counters in the latest metrics message."""
    for r in reversed(received):
        if isinstance(r.message, wire.MetricsMessage):
            agent = next(s for s in r.message.devices if s.device == "agent")
            return {k: v for k, v in agent.metrics.items() if k.startswith("traps_")}
    return {}


async def test_traps_are_published_as_events_and_counted(
    sim_devices, make_agent_config, subscriber
):
    switch_spec, ups_spec = poe_switch("sw1", ports=2), ups("ups1")
    switch_spec.community = "sw-community-5"
    ups_spec.users = [SimUser("upsuser", auth_key="ups-Auth-Key-5", priv_key="ups-Priv-Key-5")]
    switch, power = sim_devices(switch_spec, ups_spec)
    trap_port = free_udp_port()
    ups_credential = {"version": "v3", "username": "upsuser", "auth_protocol": "sha",
                      "auth_key": "ups-Auth-Key-5", "priv_protocol": "aes",
                      "priv_key": "ups-Priv-Key-5"}  # fmt: skip
    config = make_agent_config(
        "room-traps",
        interval_s=0.5,
        host={"enabled": False},
        snmp={
            "credentials": {"sw": {"community": switch_spec.community}, "ups": ups_credential},
            "timeout_s": 0.5,
            "traps": {"enabled": True, "listen_address": "127.0.0.1", "port": trap_port,
                      "batch_s": 0.1},
        },
        devices=[switch.device_config(credentials="sw").model_dump(),
                 power.device_config(credentials="ups").model_dump()],
    )  # fmt: skip
    runner = build_runner(config)
    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    try:
        await asyncio.to_thread(
            subscriber.wait_for, lambda got: any(isinstance(r.message, wire.MetricsMessage)
                                                 for r in got))  # fmt: skip
        await asyncio.to_thread(switch.send_trap, trap_port, LINK_DOWN, {
            "1.3.6.1.2.1.2.2.1.1.2": ("integer", 2), "1.3.6.1.2.1.2.2.1.8.2": ("integer", 2),
            "1.3.6.1.2.1.31.1.1.1.1.2": ("octet_str", "port2")})  # fmt: skip
        await asyncio.to_thread(power.send_trap, trap_port, UPS_ON_BATTERY, {
            "1.3.6.1.2.1.33.1.2.3.0": ("integer", 30)}, version="v3")  # fmt: skip
        received = await asyncio.to_thread(
            subscriber.wait_for,
            lambda got: len(events_of(got)) >= 2 and trap_counters(got).get("traps_received") == 2,
        )
    finally:
        stop.set()
        await running
    events = {e.type: e for e in events_of(received)}
    link_down, on_battery = events["link_down"], events["on_battery"]
    assert (link_down.device, link_down.attrs["ifname"]) == ("sw1", "port2")
    assert (on_battery.device, on_battery.attrs["battery_minutes_remaining"]) == ("ups1", 30)
    assert trap_counters(received) == {
        "traps_received": 2, "traps_unknown": 0, "traps_unresolved": 0, "traps_rejected": 0,
        "traps_dropped": 0,
    }  # fmt: skip
    topics = {r.topic for r in received if isinstance(r.message, wire.EventsMessage)}
    assert topics == {wire.topic("room-traps", wire.Kind.EVENTS)}


async def test_a_taken_trap_port_is_logged_once_and_the_agent_reports_anyway(
    make_agent_config, caplog
):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        config = make_agent_config(
            "room-no-traps",
            host={"enabled": False},
            snmp={"traps": {"enabled": True, "listen_address": "127.0.0.1", "port": port}},
        )
        runner = build_runner(config)
        await runner.run(asyncio.Event(), max_cycles=2)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        f"cannot receive SNMP traps on 127.0.0.1:{port}: Address already in use; "
        "running without traps"
    ]
    assert runner.counters.cycles == 2
