"""Real traps from simulated devices (net-snmp's snmptrap) to a running TrapListener."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig, DeviceConfig, SnmpConfig, SnmpCredential, TrapConfig
from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.agent.snmp.traps import TrapListener, TrapListenerError
from roomwatch.agent.snmp.trapspec import TrapAttr, TrapSpec, trap_event
from roomwatch.collector.demo.simdevice import SimUser, free_udp_port, poe_switch, ptz_camera, ups
from roomwatch.collector.demo.simspecs import DeviceSpec

pytestmark = pytest.mark.anyio
SW_COMMUNITY = "sw-community-17"
CAM_COMMUNITY = "cam-community-29"
UPS_USER = SimUser("ups-traps", auth_key="ups-Auth-Key-41", priv_key="ups-Priv-Key-41",
                   auth_protocol="sha256", priv_protocol="aes")  # fmt: skip
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
UPS_ON_BATTERY = "1.3.6.1.2.1.33.2.1"
UPS_ALARM_ADDED = "1.3.6.1.2.1.33.2.3"
STREAM_LOST = "1.3.6.1.4.1.55555.5.0.1"
IF_INDEX, IF_ADMIN, IF_OPER, IF_NAME = (
    "1.3.6.1.2.1.2.2.1.1", "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.1",
)  # fmt: skip


@pytest.fixture
def anyio_backend():
    return "asyncio"


def room_specs() -> list[DeviceSpec]:
    switch, camera, power = poe_switch("sw1", ports=4), ptz_camera("cam1"), ups("ups1")
    switch.community, camera.community = SW_COMMUNITY, CAM_COMMUNITY
    power.users = [UPS_USER]
    return [switch, camera, power]


def make_listener(
    credentials: dict[str, SnmpCredential], devices: list[DeviceConfig], **traps: object
) -> TrapListener:
    traps = {"enabled": True, "listen_address": "127.0.0.1", "port": free_udp_port(),
             "batch_s": 0.05} | traps  # fmt: skip
    snmp = SnmpConfig(credentials=credentials, traps=TrapConfig.model_validate(traps))
    return TrapListener(snmp, devices, ProfileRegistry.load())


def listener_for(devices, **traps: object) -> TrapListener:
    """A listener on a free port for ``devices`` (each with its own credential, all at
    127.0.0.1: the credential a trap comes with tells them apart)."""
    credentials = {d.spec.name: d.credential() for d in devices}
    configs = [d.device_config(credentials=d.spec.name) for d in devices]
    return make_listener(credentials, configs, **traps)


async def send(device, listener: TrapListener, *args, **kwargs) -> None:
    assert listener.address is not None
    await asyncio.to_thread(device.send_trap, listener.address[1], *args, **kwargs)


async def events_within(listener: TrapListener, count: int, timeout_s: float = 5.0):
    events: list[wire.Event] = []
    async with asyncio.timeout(timeout_s):
        while len(events) < count:
            events += await listener.next_batch()
    return events


def link_varbinds(index: int, oper: int, name: str | None = None):
    varbinds = {f"{IF_INDEX}.{index}": ("integer", index), f"{IF_ADMIN}.{index}": ("integer", 1),
                f"{IF_OPER}.{index}": ("integer", oper)}  # fmt: skip
    if name:
        varbinds[f"{IF_NAME}.{index}"] = ("octet_str", name)
    return varbinds


async def test_v2c_link_down_becomes_an_event_of_the_sending_switch(sim_devices):
    devices = sim_devices(*room_specs())
    switch = devices[0]
    listener = listener_for(devices)
    await listener.start()
    try:
        await send(switch, listener, LINK_DOWN, link_varbinds(3, 2, "port3"))
        [event] = await events_within(listener, 1)
    finally:
        listener.close()
    assert (event.device, event.type, event.text) == (
        "sw1",
        "link_down",
        "link down on port3 (ifIndex 3)",
    )
    assert event.attrs == {"trap_oid": LINK_DOWN, "ifindex": 3, "ifname": "port3",
                           "admin_up": 1, "oper_up": 0}  # fmt: skip
    assert listener.counters()["traps_received"] == 1


async def test_v3_auth_priv_ups_traps_are_mapped_through_the_ups_profile(sim_devices):
    devices = sim_devices(*room_specs())
    power = devices[2]
    listener = listener_for(devices)
    await listener.start()
    try:
        await send(power, listener, UPS_ON_BATTERY, {
            "1.3.6.1.2.1.33.1.2.3.0": ("integer", 12), "1.3.6.1.2.1.33.1.2.2.0": ("integer", 75),
        }, version="v3")  # fmt: skip
        await send(power, listener, UPS_ALARM_ADDED, {
            "1.3.6.1.2.1.33.1.6.2.1.1.4": ("integer", 4),
            "1.3.6.1.2.1.33.1.6.2.1.2.4": ("object_id", "1.3.6.1.2.1.33.1.6.3.2"),
        }, version="v3")  # fmt: skip
        on_battery, alarm = await events_within(listener, 2)
    finally:
        listener.close()
    assert (on_battery.device, on_battery.type) == ("ups1", "on_battery")
    assert on_battery.attrs["battery_minutes_remaining"] == 12
    assert on_battery.text == "UPS on battery for 75 s, 12 min remaining"
    assert (alarm.type, alarm.attrs["alarm"], alarm.attrs["alarm_id"]) == (
        "ups_alarm",
        "on_battery",
        4,
    )


async def test_v1_traps_are_converted_and_never_carry_the_community(sim_devices):
    devices = sim_devices(*room_specs())
    switch, camera = devices[0], devices[1]
    listener = listener_for(devices)
    await listener.start()
    try:
        await send(switch, listener, LINK_UP, link_varbinds(2, 1), version="v1")
        await send(camera, listener, STREAM_LOST, {
            "1.3.6.1.4.1.55555.2.2.0": ("integer", 4),
            "1.3.6.1.4.1.55555.5.1.0": ("octet_str", "no signal on HDMI 1"),
        }, version="v1")  # fmt: skip
        link_up, lost = await events_within(listener, 2)
    finally:
        listener.close()
    assert (link_up.device, link_up.type, link_up.attrs["ifindex"]) == ("sw1", "link_up", 2)
    assert link_up.text == "link up on ? (ifIndex 2)"  # no ifName in this trap
    assert (lost.device, lost.type, lost.text) == (
        "cam1",
        "stream_lost",
        "stream lost (no signal on HDMI 1)",
    )
    for event in (link_up, lost):
        dumped = event.model_dump_json()
        assert SW_COMMUNITY not in dumped and CAM_COMMUNITY not in dumped


async def test_an_unknown_trap_is_published_as_a_generic_event_and_counted(sim_devices):
    devices = sim_devices(*room_specs())
    listener = listener_for(devices)
    await listener.start()
    try:
        await send(devices[1], listener, "1.3.6.1.4.1.99999.0.7",
                   {"1.3.6.1.4.1.99999.1.1.0": ("octet_str", "fan 2 slow")})  # fmt: skip
        [event] = await events_within(listener, 1)
        counters = listener.counters()
    finally:
        listener.close()
    assert (event.device, event.type, event.attrs) == (
        "cam1", "trap", {"trap_oid": "1.3.6.1.4.1.99999.0.7"},
    )  # fmt: skip
    assert event.text == "trap 1.3.6.1.4.1.99999.0.7: 1.3.6.1.4.1.99999.1.1.0=fan 2 slow"
    assert counters["traps_unknown"] == 1


async def test_informs_are_acknowledged_and_published(sim_devices):
    devices = sim_devices(*room_specs())
    listener = listener_for(devices)
    await listener.start()
    try:  # snmptrap -Ci fails unless the listener answers
        await send(devices[0], listener, LINK_DOWN, link_varbinds(1, 2), inform=True)
        await send(devices[2], listener, UPS_ON_BATTERY, {}, version="v3", inform=True)
        events = await events_within(listener, 2)
    finally:
        listener.close()
    assert sorted((e.device, e.type) for e in events) == [
        ("sw1", "link_down"),
        ("ups1", "on_battery"),
    ]


async def test_wrong_credentials_and_unknown_sources_are_dropped_and_counted(sim_devices, caplog):
    devices = sim_devices(*room_specs())
    switch, power = devices[0], devices[2]
    listener = listener_for(devices)
    far_away = make_listener(  # knows no device at 127.0.0.1
        {"remote": SnmpCredential(community=SW_COMMUNITY)},
        [DeviceConfig(id="remote", kind="switch", address="192.0.2.7", credentials="remote")],
    )
    caplog.set_level(logging.DEBUG)
    await listener.start()
    await far_away.start()
    try:
        await send(switch, listener, LINK_DOWN, {}, community="wrong-community")
        wrong_key = SimUser(UPS_USER.username, auth_key="not-the-Auth-Key", priv_key="x" * 8,
                            auth_protocol="sha256")  # fmt: skip
        await send(power, listener, UPS_ON_BATTERY, {}, version="v3", user=wrong_key)
        for _ in range(2):
            await send(switch, far_away, LINK_DOWN, {})
        await asyncio.sleep(0.3)
        assert listener.take_pending() == [] and far_away.take_pending() == []
        counters, remote = listener.counters(), far_away.counters()
    finally:
        listener.close()
        far_away.close()
    assert counters["traps_received"] == 0 and counters["traps_rejected"] == 2
    assert (remote["traps_received"], remote["traps_unresolved"]) == (2, 2)
    lines = [
        r.getMessage() for r in caplog.records if "matches no configured device" in r.getMessage()
    ]
    assert lines == ["trap from 127.0.0.1 matches no configured device; ignored"]  # once
    for secret in ("wrong-community", "not-the-Auth-Key", UPS_USER.auth_key, SW_COMMUNITY):
        assert secret not in caplog.text


async def test_a_burst_beyond_max_pending_is_dropped_and_counted(sim_devices):
    devices = sim_devices(*room_specs())
    listener = listener_for(devices, max_pending=2)
    await listener.start()
    try:
        for index in range(4):
            await send(devices[0], listener, LINK_DOWN, link_varbinds(index + 1, 2))
        await asyncio.sleep(0.2)
        events = listener.take_pending()
        counters = listener.counters()
    finally:
        listener.close()
    assert [e.attrs["ifindex"] for e in events] == [1, 2]
    assert counters["traps_dropped"] == 2 and counters["traps_received"] == 4


async def test_a_taken_port_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        snmp = SnmpConfig(traps=TrapConfig(enabled=True, listen_address="127.0.0.1", port=port))
        listener = TrapListener(snmp, [], ProfileRegistry.load())
        with pytest.raises(
            TrapListenerError, match=f"cannot receive SNMP traps on 127.0.0.1:{port}"
        ):
            await listener.start()


async def test_garbage_datagrams_on_the_trap_port_are_counted_not_raised(sim_devices):
    devices = sim_devices(*room_specs())
    listener = listener_for(devices)
    await listener.start()
    assert listener.address is not None
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for payload in (b"\x30\x03\x02\x01\xff not snmp", bytes(range(40)), b"\x30"):
                sender.sendto(payload, listener.address)
        await send(devices[0], listener, LINK_DOWN, link_varbinds(1, 2))  # still listening
        [event] = await events_within(listener, 1)
        counters = listener.counters()
    finally:
        listener.close()
    assert event.type == "link_down" and counters["traps_received"] == 1
    assert counters["traps_rejected"] >= 1


def test_a_v1_form_of_an_smiv2_notification_finds_its_mapping():
    registry = ProfileRegistry.load()
    assert registry.trap("1.3.6.1.2.1.33.2.0.1").event == "on_battery"  # upsTrapOnBattery
    assert registry.trap("1.3.6.1.4.1.55555.5.0.1").event == "stream_lost"
    assert registry.trap("1.3.6.1.4.1.99999.0.1") is None


def test_a_v1_community_varbind_never_reaches_an_event():
    varbinds: list[tuple[str, int | str]] = [
        ("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.4.1.99999.0.1"),
        ("1.3.6.1.6.3.18.1.4.0", "the-v1-community"),
        ("1.3.6.1.4.1.99999.1.0", 5),
    ]
    event = trap_event("cam1", varbinds, None, wire.now())
    assert "the-v1-community" not in event.model_dump_json()
    assert event.text == "trap 1.3.6.1.4.1.99999.0.1: 1.3.6.1.4.1.99999.1.0=5"


@pytest.mark.parametrize(
    ("text", "error"),
    [("{nope} down", "not attrs"), ("{value:.1f}", "no format specs"), ("{value", "template")],
)
def test_trap_text_templates_are_checked(text, error):
    with pytest.raises(ValueError, match=error):
        TrapSpec(oid="1.3.6.1.4.1.1.0.1", event="x", text=text,
                 attrs=[TrapAttr(name="value", oid="1.3.6.1.4.1.1.1.0")])  # fmt: skip


async def test_a_reload_listens_again_with_the_new_devices(sim_devices):
    devices = sim_devices(*room_specs())
    switch = devices[0]
    listener = listener_for(devices)
    await listener.start()
    assert listener.address is not None
    port = listener.address[1]
    renamed = switch.device_config(id="sw-renamed", credentials="sw1").model_dump()
    reloaded = AgentConfig.model_validate({
        "agent_id": "room-101",
        "snmp": {"credentials": {"sw1": {"community": SW_COMMUNITY}},
                 "traps": {"enabled": True, "listen_address": "127.0.0.1", "port": port,
                           "batch_s": 0.05}},
        "devices": [renamed],
    })  # fmt: skip
    try:
        await listener.reconfigure(reloaded, poller=None)
        await send(switch, listener, LINK_DOWN, link_varbinds(1, 2))
        [event] = await events_within(listener, 1)
    finally:
        listener.close()
    assert (event.device, event.type) == ("sw-renamed", "link_down")
