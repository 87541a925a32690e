"""Lossless delivery under real faults, with real processes on 127.0.0.1.

One stack for the module: mosquitto (deploy security model, persistence), VictoriaMetrics,
the collector as its own process (so it can be SIGKILLed), and agent processes polling
their PC every 0.2 s. Each test breaks one part, then compares what every agent produced
(its own "stopped after N cycles" line, its spool) with what was stored, read back from
the TSDB export and from SQL: every sample exactly once, nothing lost, nothing doubled.

Measured numbers are printed (``pytest -s``) and recorded in docs/operations.md.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomwatch.agent.config import SpoolConfig
from roomwatch.agent.spool import Spool
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from tests.e2e.outage_stack import (
    AgentProcess,
    CollectorProcess,
    runs_from_one,
    stored_cycles,
    wait_until,
)

pytestmark = pytest.mark.e2e

BROKER_BACKLOG = 200  # cycles each agent holds while the broker is away (0.2 s each)
TSDB_OUTAGE_S = 12.0
COLLECTOR_KILLS = 4
AGENT_KILLS = 12
AGENTS = {
    "broker": ["ob-1", "ob-2"],
    "collector": ["oc-1", "oc-2"],
    "tsdb": ["ot-1", "ot-2"],
    "agent": ["oa-1"],
}


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker = MosquittoBroker(tmp / "broker")
        self.tsdb = VictoriaMetrics(tmp / "tsdb")
        self.collector = CollectorProcess(tmp / "collector", self.broker, self.tsdb)
        self.collector.write_inventory(a for agents in AGENTS.values() for a in agents)
        self.agents: list[AgentProcess] = []

    def start(self) -> None:
        self.broker.start()
        self.tsdb.start()
        self.collector.start()

    def agent(self, agent_id: str, **overrides: object) -> AgentProcess:
        agent = AgentProcess(agent_id, self.tmp / "agents", self.broker, **overrides)
        self.agents.append(agent)
        return agent

    def close(self) -> None:
        for agent in self.agents:
            agent.kill()
        self.collector.kill()
        self.tsdb.stop()
        self.broker.close()

    def wait_stored(self, agent: AgentProcess, count: int, timeout_s: float = 60.0) -> float:
        return wait_until(
            lambda: len(stored_cycles(self.tsdb, agent.agent_id)) >= count,
            timeout_s,
            f"{count} samples of {agent.agent_id} in the TSDB",
            every_s=0.5,
        )

    def assert_exactly_once(self, agent: AgentProcess, produced: int) -> None:
        """Every one of the agent's ``produced`` cycles is stored once in TSDB and SQL."""
        self.wait_stored(agent, produced)
        points = stored_cycles(self.tsdb, agent.agent_id)
        assert [value for _ts, value in points] == [float(n) for n in range(1, produced + 1)]
        wait_until(
            lambda: self.collector.rollup_count(agent.agent_id) == produced,
            10,
            f"SQL rollups of {agent.agent_id} to count {produced}",
        )
        assert self.collector.ingested(agent.agent_id) >= produced
        spool = agent.spool()
        assert (spool.pending, spool.dropped) == (0, 0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(Path(tmp_path_factory.mktemp("outages")))
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def report(what: str, **numbers: float) -> None:
    print(f"\n[outage] {what}: " + json.dumps({k: round(v, 2) for k, v in numbers.items()}))


def test_a_long_broker_outage_is_stored_exactly_once_after_the_broker_returns(stack: Stack):
    agents = [stack.agent(a) for a in AGENTS["broker"]]
    for agent in agents:
        agent.start()
    for agent in agents:
        stack.wait_stored(agent, 5)

    stack.broker.stop()  # a clean stop: mosquitto saves sessions and queues
    outage_s = wait_until(  # hundreds of cycles held by each agent (40 s on an idle machine)
        lambda: min(agent.spool().pending for agent in agents) >= BROKER_BACKLOG,
        180,
        f"{BROKER_BACKLOG} messages spooled by each agent",
        every_s=0.5,
    )
    backlog = [agent.spool().pending for agent in agents]
    stack.broker.start()
    drain_s = wait_until(
        lambda: all(agent.spool().pending <= 2 for agent in agents), 60, "the spools to drain"
    )
    for agent in agents:
        assert agent.stop() == 0
    for agent in agents:
        stack.assert_exactly_once(agent, agent.stopped_after_cycles())

    assert stack.collector.metric("roomwatch_collector_broker_sessions_lost_total") == 0
    report(
        "broker outage",
        outage_s=outage_s,
        backlog_per_agent=min(backlog),
        drain_s=drain_s,
        drain_rate_per_s=sum(backlog) / drain_s,
    )


def test_a_collector_killed_again_and_again_loses_and_doubles_nothing(stack: Stack):
    agents = [stack.agent(a) for a in AGENTS["collector"]]
    for agent in agents:
        agent.start()
    for agent in agents:
        stack.wait_stored(agent, 5)

    rng = random.Random(7)
    restart_s = []
    for _ in range(COLLECTOR_KILLS):
        time.sleep(rng.uniform(0.5, 2.5))  # mid-batch: 10 messages a second arrive
        stack.collector.kill()
        started = time.monotonic()
        stack.collector.start()
        restart_s.append(time.monotonic() - started)
    for agent in agents:
        assert agent.stop() == 0
    for agent in agents:
        stack.assert_exactly_once(agent, agent.stopped_after_cycles())
        # The watched recording process never runs: one fault, opened once, kills or not.
        [(fault_id, status)] = stack.collector.faults(agent.agent_id, "recording_process_down")
        assert status == "open" and stack.collector.fault_events(fault_id, "opened") == 1

    report("collector SIGKILL", kills=COLLECTOR_KILLS, restart_s=max(restart_s))


def test_a_tsdb_outage_holds_messages_at_the_broker_and_catches_up(stack: Stack):
    agents = [stack.agent(a) for a in AGENTS["tsdb"]]
    for agent in agents:
        agent.start()
    for agent in agents:
        stack.wait_stored(agent, 5)
    collector = stack.collector

    stack.tsdb.stop()
    time.sleep(TSDB_OUTAGE_S)
    pending_age_s = collector.metric("roomwatch_collector_pending_age_seconds")
    agent_pending = max(agent.spool().pending for agent in agents)
    stack.tsdb.start()
    catch_up_s = wait_until(
        lambda: collector.metric("roomwatch_collector_pending_age_seconds") < 1.0,
        60,
        "the collector to catch up",
    )
    for agent in agents:
        assert agent.stop() == 0
    for agent in agents:
        stack.assert_exactly_once(agent, agent.stopped_after_cycles())

    # The lag was visible while it lasted, and the broker, not the agents, held the backlog.
    assert pending_age_s >= TSDB_OUTAGE_S - 3
    assert agent_pending <= 5
    assert collector.metric("roomwatch_collector_store_retries_total") > 0
    report(
        "TSDB outage",
        outage_s=TSDB_OUTAGE_S,
        pending_age_s=pending_age_s,
        catch_up_s=catch_up_s,
    )


def test_an_agent_killed_mid_write_again_and_again_opens_its_spool_and_drains_it(
    stack: Stack,
):
    [agent] = [stack.agent(a) for a in AGENTS["agent"]]
    rng = random.Random(11)
    must_arrive: set[int] = set()  # sample times (ms) of messages left in the spool by a kill
    # Killed while only appending (broker away, the spool grows), then while appending and
    # committing (broker back, the backlog drains).
    stack.broker.stop()
    for kill in range(AGENT_KILLS):
        if kill == AGENT_KILLS // 2:
            stack.broker.start()
        start_agent(agent)
        time.sleep(rng.uniform(0.1, 1.5))
        agent.kill()
        Spool.open(agent.state_dir, SpoolConfig()).close()  # opens: not damaged
        for payload in agent.pending_payloads():
            message = json.loads(payload)
            if message["type"] == "metrics":
                must_arrive.add(_ms(message["ts"]))
    start_agent(agent)
    wait_until(lambda: agent.spool().pending <= 1, 60, "the spool to drain")
    assert agent.stop() == 0

    final_cycles = agent.stopped_after_cycles()
    wait_until(
        lambda: (
            runs_from_one([v for _t, v in stored_cycles(stack.tsdb, agent.agent_id)])[-1:]
            == [final_cycles]
        ),
        30,
        "the last run stored completely",
    )
    points = stored_cycles(stack.tsdb, agent.agent_id)
    runs = runs_from_one([value for _ts, value in points])  # every restart counts 1, 2, 3...
    assert len({ts for ts, _v in points}) == len(points)  # no sample twice
    assert must_arrive <= {ts for ts, _v in points}
    try:
        wait_until(
            lambda: stack.collector.rollup_count(agent.agent_id) == len(points), 30, "SQL rollups"
        )
    except TimeoutError:
        folded = stack.collector.rollup_count(agent.agent_id)
        raise AssertionError(
            f"SQL rollups folded {folded} samples, the TSDB holds {len(points)}; collector log:\n"
            + stack.collector.log_text()[-4000:]
        ) from None
    assert agent.spool().pending == 0
    assert list(agent.state_dir.glob("*corrupt*")) == []
    assert "damaged" not in agent.log_text()
    report(
        "agent SIGKILL",
        kills=AGENT_KILLS,
        runs=len(runs),
        stored=len(points),
        left_in_spool_by_kills=len(must_arrive),
    )


def start_agent(agent: AgentProcess) -> None:
    """Start the agent and wait until it runs (its signal handlers are installed)."""
    starts = agent.log_text().count(" starting: ")
    agent.start()
    wait_until(lambda: agent.log_text().count(" starting: ") > starts, 60, "the agent to start")


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
