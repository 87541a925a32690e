"""SIGHUP reloads a running agent process: a valid file is switched to without losing the
spool or the broker connection, an invalid one is refused with a clear message and the old
configuration keeps running; a new password is used from the next connect."""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roomwatch.agent import wire
from roomwatch.collector.demo.broker import MosquittoBroker
from tests.e2e.outage_stack import AgentProcess, wait_until
from tests.fixtures.broker import Subscriber

pytestmark = pytest.mark.e2e
AGENT = "room-301"


@pytest.fixture
def agent(broker: MosquittoBroker, tmp_path: Path) -> Iterator[AgentProcess]:
    process = AgentProcess(AGENT, tmp_path, broker, interval_s=1.0, spool={"replay_window_s": 0})
    process.start()
    yield process
    process.kill()


def metrics(subscriber: Subscriber) -> list[wire.MetricsMessage]:
    return subscriber.messages(wire.Kind.METRICS, AGENT)


def statuses(subscriber: Subscriber) -> list[str]:
    return [m.state for m in subscriber.messages(wire.Kind.STATUS, AGENT)]


def reload(agent: AgentProcess, config: dict[str, Any]) -> None:
    before = agent.log_text().count("reload")
    agent.write_config(config)
    agent.signal(signal.SIGHUP)
    wait_until(lambda: agent.log_text().count("reload") > before, 20, "the agent to reload")


def agent_counter(message: wire.MetricsMessage, name: str) -> float:
    [own] = [d for d in message.devices if d.device == "agent"]
    return own.metrics[name]


def test_a_valid_reload_keeps_spool_and_connection_and_applies_the_new_settings(
    agent: AgentProcess, subscriber: Subscriber, broker: MosquittoBroker
):
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= 2, 30)
    pid = agent.pid
    changed = copy.deepcopy(agent.config)
    changed["interval_s"] = 0.3
    changed["host"]["processes"].append({"name": "shell", "match": "no-such-shell-either"})

    reload(agent, changed)
    subscriber.wait_for(lambda _r: sum(m.interval_s == 0.3 for m in metrics(subscriber)) >= 5, 30)

    assert agent.running and agent.pid == pid
    seqs = [m.seq for m in metrics(subscriber)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # one spool, one sequence
    newest = metrics(subscriber)[-1]
    assert agent_counter(newest, "reconnects") == 0  # the connection was kept
    assert statuses(subscriber) == ["online"]
    assert broker.log_tail(200).count(f"as {AGENT} ") == 1  # one CONNECT
    [host] = [d for d in newest.devices if d.device == "host"]
    assert {row.labels["name"] for row in host.tables["process"]} == {"recorder", "shell"}


def test_an_invalid_reload_is_refused_with_the_file_and_key_and_the_old_config_runs_on(
    agent: AgentProcess, subscriber: Subscriber
):
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= 2, 30)
    broken = copy.deepcopy(agent.config)
    broken["interval_s"] = 0.01
    broken["mqtt"]["prot"] = 1883

    reload(agent, broken)
    log = agent.log_text()
    assert "reload rejected; the running configuration stays" in log
    assert f"{agent.config_path}: interval_s:" in log
    assert "mqtt.prot: unknown key" in log
    assert agent.password not in log

    renamed = copy.deepcopy(agent.config)
    renamed["agent_id"] = "room-999"
    reload(agent, renamed)
    assert "agent_id cannot change while running; restart the agent" in agent.log_text()

    count = len(metrics(subscriber))
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= count + 2, 30)
    assert agent.running
    assert {m.interval_s for m in metrics(subscriber)} == {1.0}


def test_a_new_password_is_used_from_the_next_connect(
    agent: AgentProcess, subscriber: Subscriber, broker: MosquittoBroker
):
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= 2, 30)
    rotated = copy.deepcopy(agent.config)
    rotated["mqtt"]["password"] = "rotated-" + agent.password

    reload(agent, rotated)  # 1. the agent learns the new password, keeps its connection
    count = len(metrics(subscriber))
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= count + 2, 30)
    assert statuses(subscriber) == ["online"]

    broker.add_user(AGENT, rotated["mqtt"]["password"])  # 2. the broker reloads: it drops
    subscriber.wait_for(  # the old password's connection; 3. the agent is back with the new
        lambda _r: agent_counter(metrics(subscriber)[-1], "reconnects") >= 1, 30
    )
    assert statuses(subscriber)[-1] == "online"
    assert "refused" not in agent.log_text()
    seqs = [m.seq for m in metrics(subscriber)]
    assert len(set(seqs)) == len(seqs) and seqs == sorted(seqs)  # nothing lost on the way


def test_a_reload_that_changes_how_the_broker_is_reached_reconnects_without_going_offline(
    agent: AgentProcess, subscriber: Subscriber
):
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= 2, 30)
    changed = copy.deepcopy(agent.config)
    changed["mqtt"]["keepalive_s"] = 15

    reload(agent, changed)
    assert "reconnecting to the broker" in agent.log_text()
    count = len(metrics(subscriber))
    subscriber.wait_for(lambda _r: len(metrics(subscriber)) >= count + 3, 30)
    assert "offline" not in statuses(subscriber)
    seqs = [m.seq for m in metrics(subscriber)]
    assert len(set(seqs)) == len(seqs) and seqs == sorted(seqs)
    assert agent_counter(metrics(subscriber)[-1], "reconnects") >= 1
