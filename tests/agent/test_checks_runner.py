"""A camera watched by an RTSP check only (no SNMP) reaches the collector's topic as an
ordinary device sample: reachable, rtt_ms and stream_up, and it is in the inventory."""

from __future__ import annotations

import asyncio

from roomwatch.agent import wire
from tests.agent.test_runner import MakeConfig, make_runner, messages
from tests.fixtures.broker import Subscriber, wait_until
from tests.fixtures.rtsp import RtspResponder


def test_a_camera_with_only_an_rtsp_check_is_published_with_its_stream_state(
    make_agent_config: MakeConfig, subscriber: Subscriber, rtsp_camera: RtspResponder
) -> None:
    config = make_agent_config(
        "room-102",
        devices=[
            {
                "id": "cam-1",
                "kind": "camera",
                "address": "127.0.0.1",
                "snmp": False,
                "checks": {
                    "rtsp": [
                        {
                            "url": f"rtsp://127.0.0.1:{rtsp_camera.port}/live/main",
                            "username": "viewer",
                            "password": rtsp_camera.password,
                        }
                    ]
                },
            }
        ],
    )
    runner, _spool, publisher, _fake = make_runner(config)

    async def two_cycles() -> None:
        publisher.start()
        await asyncio.to_thread(wait_until, lambda: publisher.connected)
        await runner.run_cycle()
        rtsp_camera.streams.pop("/live/main")  # the encoder behind the camera stops
        await runner.run_cycle()

    try:
        asyncio.run(two_cycles())
        received = subscriber.wait_for(
            lambda r: (
                len(messages(r, wire.MetricsMessage)) == 2
                and bool(messages(r, wire.InventoryMessage))
            )
        )
    finally:
        publisher.stop()
    first, second = sorted(messages(received, wire.MetricsMessage), key=lambda m: m.seq)
    assert isinstance(first, wire.MetricsMessage) and isinstance(second, wire.MetricsMessage)
    [up] = [d for d in first.devices if d.device == "cam-1"]
    [down] = [d for d in second.devices if d.device == "cam-1"]
    assert (up.kind, up.reachable, up.metrics, up.error) == ("camera", True, {"stream_up": 1}, None)
    assert up.rtt_ms is not None and up.rtt_ms >= 0
    assert (down.reachable, down.metrics["stream_up"]) == (True, 0)
    assert down.error is not None and down.error.endswith("no such stream (404)")
    [inventory] = messages(received, wire.InventoryMessage)
    assert isinstance(inventory, wire.InventoryMessage)
    listed = [(d.device, d.kind) for d in inventory.devices]
    assert listed == [("host", "host"), ("cam-1", "camera")]
