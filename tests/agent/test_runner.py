"""The runner's policy on a fake clock, and the agent process as the service manager runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig, HostConfig, ProcessWatch
from roomwatch.agent.errors import SpoolError
from roomwatch.agent.host import HostProbe
from roomwatch.agent.publisher import Publisher
from roomwatch.agent.runner import Runner
from roomwatch.agent.spool import Spool
from tests.fixtures.broker import Received, Subscriber, wait_until, write_agent_yaml

MakeConfig = Callable[..., AgentConfig]
REPO = Path(__file__).parents[2]
AGENT = "room-101"


class FakeTime:
    """A monotonic clock that only moves when the runner sleeps."""

    def __init__(self) -> None:
        self.now_s = 1000.0
        self.before_sleep: Callable[[], bool] = lambda: True

    def clock_s(self) -> float:
        return self.now_s

    async def sleep(self, delay_s: float) -> None:
        await asyncio.to_thread(wait_until, self.before_sleep)
        self.now_s += delay_s


def make_runner(
    config: AgentConfig, poller: object = None, host: HostProbe | None = None
) -> tuple[Runner, Spool, Publisher, FakeTime]:
    fake = FakeTime()
    spool = Spool.open(config.state_dir, config.spool)
    publisher = Publisher(config, spool)
    host_probe = host if host is not None else HostProbe(config.host)
    runner = Runner(
        config,
        spool,
        publisher,
        host_probe,
        poller,  # type: ignore[arg-type]
        clock_s=fake.clock_s,
        sleep=fake.sleep,
    )
    return runner, spool, publisher, fake


def metrics_payload(seq: int) -> bytes:
    message = wire.MetricsMessage(agent=AGENT, seq=seq, ts=wire.now(), interval_s=1, devices=[])
    return wire.encode(message)


def messages(received: list[Received], kind: type[wire.Envelope]) -> list[wire.Envelope]:
    """Each message of ``kind`` once, as the collector stores it: re-sent copies (the
    agent replays recently acknowledged messages after a reconnect) share their seq."""
    unique = {r.message.seq: r.message for r in received if isinstance(r.message, kind)}
    return list(unique.values())


def cycle_messages(received: list[Received]) -> list[wire.MetricsMessage]:
    found = messages(received, wire.MetricsMessage)
    return [m for m in found if isinstance(m, wire.MetricsMessage) and m.devices]


def test_each_cycle_publishes_the_host_and_the_agents_own_counters(
    make_agent_config: MakeConfig, subscriber: Subscriber
) -> None:
    config = make_agent_config(AGENT, interval_s=30)
    runner, _spool, publisher, fake = make_runner(config)
    fake.before_sleep = lambda: publisher.connected  # so the stop finds a connection

    asyncio.run(runner.run(asyncio.Event(), max_cycles=3))

    received = subscriber.wait_for(
        lambda r: (
            len(messages(r, wire.MetricsMessage)) == 3
            and len(messages(r, wire.InventoryMessage)) == 1
            and any(
                isinstance(m.message, wire.StatusMessage) and m.message.state == "offline"
                for m in r
            )
        )
    )
    # Sent before the connection came up, cycle 1 may arrive after later cycles (live first).
    metrics = sorted(messages(received, wire.MetricsMessage), key=lambda m: m.seq)
    assert fake.now_s == 1000.0 + 3 * 30  # three cycles of 30 s on the fake clock
    for cycle, message in enumerate(metrics, start=1):
        assert isinstance(message, wire.MetricsMessage) and message.interval_s == 30
        devices = {d.device: d for d in message.devices}
        assert set(devices) == {"host", "agent"}
        assert devices["host"].metrics["mem_used_pct"] > 0
        agent = devices["agent"].metrics
        assert agent["cycles"] == cycle and agent["cycle_duration_ms"] >= 0
        assert agent["spool_in_memory"] == 0 and agent["spool_dropped"] == 0
    [inventory] = messages(received, wire.InventoryMessage)
    assert isinstance(inventory, wire.InventoryMessage)
    assert [d.device for d in inventory.devices] == ["host"]
    last = messages(received, wire.StatusMessage)[-1]
    assert isinstance(last, wire.StatusMessage) and (last.state, last.reason) == (
        "offline",
        "stopped",
    )


@pytest.fixture
def recorder_marker() -> str:
    return f"roomwatch-recorder-{uuid.uuid4().hex}"


def test_a_process_stopping_is_published_as_an_event(
    make_agent_config: MakeConfig, subscriber: Subscriber, recorder_marker: str
) -> None:
    config = make_agent_config(AGENT)
    host = HostProbe(HostConfig(processes=[ProcessWatch(name="recorder", match=recorder_marker)]))
    recorder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", recorder_marker]
    )
    runner, _spool, publisher, _fake = make_runner(config, host=host)

    async def scenario() -> None:
        publisher.start()
        await runner.run_cycle()  # baseline: the recorder runs
        recorder.kill()
        recorder.wait()
        await runner.run_cycle()

    try:
        asyncio.run(scenario())
        received = subscriber.wait_for(lambda r: bool(messages(r, wire.EventsMessage)))
    finally:
        recorder.kill()
        publisher.stop()
    [events] = messages(received, wire.EventsMessage)
    assert isinstance(events, wire.EventsMessage)
    assert [(e.device, e.type, e.attrs["process"]) for e in events.events] == [
        ("host", "process_stop", "recorder")
    ]


class SwappedCamera:
    """The SNMP part as the runner sees it: a camera that drops off and comes back a new unit.

    The runner's policy is under test here; the real poller has its own tests.
    """

    def __init__(self) -> None:
        self.firmware = "1.0"
        self.reachable = True
        self.identified = 0
        self.malformed_replies = 0
        self.odd_values = 0

    async def poll_all(self, deadline_s: float | None = None) -> list[wire.DeviceSample]:
        error = None if self.reachable else "timeout"
        return [
            wire.DeviceSample(device="cam", kind="camera", reachable=self.reachable, error=error)
        ]

    async def identify(self) -> list[wire.DeviceInfo]:
        self.identified += 1
        return [wire.DeviceInfo(device="cam", kind="camera", firmware=self.firmware)]

    def close(self) -> None:
        pass


def test_the_inventory_is_republished_when_a_device_comes_back_changed(
    make_agent_config: MakeConfig, subscriber: Subscriber
) -> None:
    config = make_agent_config(AGENT)
    camera = SwappedCamera()
    runner, _spool, publisher, _fake = make_runner(config, poller=camera)

    async def scenario() -> None:
        publisher.start()
        await asyncio.to_thread(wait_until, lambda: publisher.connected)
        await runner.run_cycle()
        camera.reachable = False
        await runner.run_cycle()
        camera.reachable, camera.firmware = True, "2.0"
        camera.malformed_replies = 3  # the new unit answered garbage three times
        await runner.run_cycle()
        await runner.run_cycle()

    try:
        asyncio.run(scenario())
        received = subscriber.wait_for(lambda r: len(messages(r, wire.InventoryMessage)) == 2)
    finally:
        publisher.stop()
    firmware = [
        [d.firmware for d in m.devices if d.device == "cam"]
        for m in messages(received, wire.InventoryMessage)
        if isinstance(m, wire.InventoryMessage)
    ]
    assert firmware == [["1.0"], ["2.0"]]
    assert camera.identified == 2
    assert runner.counters.device_timeouts == 1
    last = sorted(messages(received, wire.MetricsMessage), key=lambda m: m.seq)[-1]
    assert isinstance(last, wire.MetricsMessage)
    [agent] = [d for d in last.devices if d.device == "agent"]
    assert agent.metrics["snmp_malformed_replies"] == 3


@pytest.fixture
def agent_process(make_agent_config: MakeConfig, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    config_file = write_agent_yaml(
        make_agent_config(AGENT, interval_s=0.5), tmp_path / "agent.yaml"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "roomwatch.agent", "--config", str(config_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


def statuses(received: list[Received]) -> list[wire.StatusMessage]:
    return [m for m in messages(received, wire.StatusMessage) if isinstance(m, wire.StatusMessage)]


def test_the_agent_process_stops_cleanly_on_sigterm(
    agent_process: subprocess.Popen[str], subscriber: Subscriber
) -> None:
    subscriber.wait_for(lambda r: bool(messages(r, wire.MetricsMessage)))

    agent_process.send_signal(signal.SIGTERM)
    _out, err = agent_process.communicate(timeout=15)

    assert agent_process.returncode == 0
    assert "Traceback" not in err
    received = subscriber.wait_for(lambda r: statuses(r)[-1].state == "offline")
    assert statuses(received)[-1].reason == "stopped"


def test_the_broker_publishes_the_last_will_when_the_agent_dies(
    agent_process: subprocess.Popen[str], subscriber: Subscriber
) -> None:
    subscriber.wait_for(lambda r: bool(statuses(r)) and statuses(r)[-1].state == "online")

    agent_process.kill()  # SIGKILL: no DISCONNECT, the socket just closes

    received = subscriber.wait_for(lambda r: statuses(r)[-1].state == "offline")
    assert statuses(received)[-1].reason == "connection lost"
    wait_until(lambda: agent_process.poll() is not None)


def test_a_full_disk_moves_the_spool_into_memory_and_reports_keep_flowing(
    make_agent_config: MakeConfig, subscriber: Subscriber
) -> None:
    config = make_agent_config(AGENT)
    runner, spool, publisher, _fake = make_runner(config)
    # SQLite answers SQLITE_FULL exactly as on a full disk once the file may not grow.
    pages = spool._conn.execute("PRAGMA page_count").fetchone()[0]
    spool._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(SpoolError):  # fill what is left
        for _ in range(1000):
            spool.append("metrics", lambda seq: metrics_payload(seq))

    async def scenario() -> None:
        publisher.start()
        for _ in range(3):
            await runner.run_cycle()

    try:
        asyncio.run(scenario())
        # The filler spooled on disk before the disk filled up may drain too; count the
        # three cycles the runner produced after it (they carry devices, the filler none).
        received = subscriber.wait_for(lambda r: len(cycle_messages(r)) == 3, timeout_s=30)
    finally:
        publisher.stop()
    last = max(cycle_messages(received), key=lambda m: m.seq)
    assert isinstance(last, wire.MetricsMessage)
    agent = next(d for d in last.devices if d.device == "agent")
    assert agent.metrics["spool_in_memory"] == 1
