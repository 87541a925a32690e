"""The ingest store on SQLite and PostgreSQL: dedupe, agents, devices, latest state."""

from __future__ import annotations

import platform
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from roomwatch.agent.wire import DeviceInfo, DeviceSample, InventoryMessage, TableRow
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.models import Agent, Device, DeviceState, IngestedMessage
from roomwatch.collector.db.session import Database, open_database
from tests.collector.conftest import T0, wire_metrics


def _device(db: Database, room: str, device: str) -> Device:
    with db.session() as session:
        return session.scalars(
            select(Device).where(Device.room_id == room, Device.device == device)
        ).one()


# --- claim: exactly-once storage on (agent, seq) ---------------------------------------------
def test_claim_accepts_a_message_once(database: Database):
    with database.session() as session:
        assert ingest_store.claim(session, "agent-1", 7, T0) is True
        assert ingest_store.claim(session, "agent-1", 7, T0) is False
        assert ingest_store.claim(session, "agent-1", 8, T0) is True
        assert ingest_store.claim(session, "agent-2", 7, T0) is True


def test_a_claim_survives_a_new_database_object_on_the_same_url(database_url: str):
    first = open_database(database_url)
    with first.session() as session:
        assert ingest_store.claim(session, "agent-1", 1, T0)
    first.dispose()
    second = open_database(database_url)
    with second.session() as session:
        assert ingest_store.claim(session, "agent-1", 1, T0 + timedelta(hours=1)) is False
    second.dispose()


def test_a_rolled_back_claim_is_not_kept(database: Database):
    try:
        with database.session() as session:
            assert ingest_store.claim(session, "agent-1", 5, T0)
            raise RuntimeError("the TSDB write failed")
    except RuntimeError:
        pass
    with database.session() as session:
        assert ingest_store.claim(session, "agent-1", 5, T0) is True


def test_claim_many_flags_duplicates_within_and_across_batches(database: Database):
    with database.session() as session:
        assert ingest_store.claim_many(session, [("a", 1), ("a", 2)], T0) == [True, True]
    with database.session() as session:
        flags = ingest_store.claim_many(session, [("a", 2), ("a", 3), ("b", 1), ("a", 3)], T0)
    assert flags == [False, True, True, False]


@pytest.mark.parametrize("first_commits", [True, False])
def test_concurrent_claims_of_one_message_store_it_once(database: Database, first_commits):
    """A second collector claiming the same (agent, seq) waits for the first one's outcome."""
    results: list[bool] = []

    def second_collector() -> None:
        with database.session() as session:
            results.append(ingest_store.claim(session, "agent-1", 42, T0))

    second = threading.Thread(target=second_collector)
    try:
        with database.session() as session:
            assert ingest_store.claim(session, "agent-1", 42, T0)
            second.start()
            time.sleep(0.5)
            assert second.is_alive(), "the second claim did not wait for the first transaction"
            if not first_commits:
                raise RuntimeError("the first collector's batch failed")
    except RuntimeError:
        pass
    second.join(timeout=20)
    assert results == [not first_commits]


def test_prune_forgets_old_claims_only(database: Database):
    with database.session() as session:
        ingest_store.claim(session, "a", 1, T0)
        ingest_store.claim(session, "a", 2, T0 + timedelta(days=10))
    with database.session() as session:
        assert ingest_store.prune_ingested(session, T0 + timedelta(days=1)) == 1
    with database.session() as session:
        assert session.scalars(select(IngestedMessage.seq)).all() == [2]


# --- agents ------------------------------------------------------------------------------------
def test_agent_room_comes_from_the_inventory(placed_database: Database):
    with placed_database.session() as session:
        assert ingest_store.agent_room(session, "agent-1") == "r1"
        assert ingest_store.agent_room(session, "agent-2") == "r2"
        assert ingest_store.agent_room(session, "stranger") is None


def test_agent_rooms_maps_many_agents_at_once(placed_database: Database):
    with placed_database.session() as session:
        rooms = ingest_store.agent_rooms(session, ["agent-1", "agent-2", "stranger", "agent-1"])
    assert rooms == {"agent-1": "r1", "agent-2": "r2"}


def test_agent_status_changes_are_reported_and_stored(placed_database: Database):
    db = placed_database
    with db.session() as session:
        assert ingest_store.set_agent_status(
            session, "agent-1", True, T0, version="1.2", hostname="pc1"
        )
        assert not ingest_store.set_agent_status(
            session, "agent-1", True, T0 + timedelta(seconds=5)
        )
    # A Last Will carries the time its agent connected: older than the online it follows.
    with db.session() as session:
        assert ingest_store.set_agent_status(session, "agent-1", False, T0 - timedelta(seconds=1))
    with db.session() as session:
        agent = session.get_one(Agent, "agent-1")
        assert (agent.online, agent.version, agent.hostname) == (False, "1.2", "pc1")
        assert agent.status_changed_at == T0 - timedelta(seconds=1)
        assert agent.last_seen_at == T0 + timedelta(seconds=5)


def test_an_unknown_agent_gets_a_row_but_no_room(placed_database: Database):
    with placed_database.session() as session:
        ingest_store.set_agent_status(session, "stranger", True, T0)
    with placed_database.session() as session:
        assert session.get_one(Agent, "stranger").online is True
        assert ingest_store.agent_room(session, "stranger") is None


def test_touch_agent_only_moves_last_seen_forward(placed_database: Database):
    with placed_database.session() as session:
        ingest_store.touch_agent(session, "agent-1", T0)
        ingest_store.touch_agent(session, "agent-1", T0 - timedelta(minutes=5))
        ingest_store.touch_agents(session, {"agent-2": T0, "stranger": T0})
    with placed_database.session() as session:
        assert session.get_one(Agent, "agent-1").last_seen_at == T0
        assert session.get_one(Agent, "agent-2").last_seen_at == T0
        assert session.get(Agent, "stranger") is None


# --- devices -----------------------------------------------------------------------------------
def test_ensure_devices_creates_unknown_devices_as_agent_reported(placed_database: Database):
    samples = [
        DeviceSample(device="cam1", kind="camera", reachable=True),  # inventory, no model
        DeviceSample(device="dsp", kind="audio", model="Tesira", reachable=True),
    ]
    with placed_database.session() as session:
        devices = ingest_store.ensure_devices(session, "r1", samples)
        assert set(devices) == {"cam1", "dsp"}
    cam, dsp = _device(placed_database, "r1", "cam1"), _device(placed_database, "r1", "dsp")
    assert (cam.model, cam.source, cam.procured, cam.parent) == ("CAM-A", "inventory", True, "sw")
    assert (dsp.kind, dsp.model, dsp.source, dsp.procured) == ("audio", "Tesira", "agent", False)
    with placed_database.session() as session:  # a second time finds, does not duplicate
        again = ingest_store.ensure_devices(session, "r1", samples)
        assert again["dsp"].id == dsp.id


def test_ensure_devices_many_serves_several_rooms(placed_database: Database):
    host = DeviceSample(device="host", kind="host", reachable=True)
    dsp = DeviceSample(device="dsp", kind="audio", reachable=True)
    with placed_database.session() as session:
        found = ingest_store.ensure_devices_many(session, {"r1": [host, dsp], "r2": [host, dsp]})
        assert {room: sorted(devices) for room, devices in found.items()} == {
            "r1": ["dsp", "host"],
            "r2": ["dsp", "host"],
        }
        assert found["r1"]["host"].id != found["r2"]["host"].id
        assert found["r2"]["dsp"].room_id == "r2"


def test_inventory_message_merges_reported_details(placed_database: Database):
    message = InventoryMessage(
        agent="agent-1",
        seq=3,
        ts=T0,
        agent_version="1.4.0",
        hostname="REC-A101",
        devices=[
            DeviceInfo(device="cam1", kind="camera", vendor="Hikvision", firmware="V5.7.3"),
            DeviceInfo(device="sw", kind="switch", model="", address="10.0.0.2"),
            DeviceInfo(device="nas", kind="nas", model="DS920+", parent="sw"),
        ],
    )
    with placed_database.session() as session:
        ingest_store.apply_inventory_message(session, "r1", message)
    cam = _device(placed_database, "r1", "cam1")
    assert (cam.model, cam.vendor, cam.firmware, cam.source) == (
        "CAM-A",
        "Hikvision",
        "V5.7.3",
        "inventory",
    )
    switch = _device(placed_database, "r1", "sw")
    assert (switch.model, switch.address) == ("S1850", "10.0.0.2")
    nas = _device(placed_database, "r1", "nas")
    assert (nas.source, nas.parent, nas.model) == ("agent", "sw", "DS920+")
    with placed_database.session() as session:
        agent = session.get_one(Agent, "agent-1")
        assert (agent.version, agent.hostname) == ("1.4.0", "REC-A101")


def test_the_inventory_model_wins_over_what_an_agent_reports(placed_database: Database):
    # An agent once reported its CPU architecture as the host's model; the spare stock then
    # listed "x86_64". The inventory's model is what was procured: a report never replaces it.
    message = InventoryMessage(
        agent="agent-1",
        seq=4,
        ts=T0,
        agent_version="1.4.0",
        hostname="REC-A101",
        devices=[
            DeviceInfo(device="host", kind="host", model="x86_64", firmware="Linux 6.1"),
            DeviceInfo(device="sw", kind="switch", model="S1850-28P", vendor="Huawei"),
        ],
    )
    with placed_database.session() as session:
        ingest_store.apply_inventory_message(session, "r1", message)
        sample = DeviceSample(device="host", kind="host", model="x86_64", reachable=True)
        ingest_store.ensure_devices(session, "r1", [sample])
    host = _device(placed_database, "r1", "host")
    assert (host.model, host.firmware) == ("RS-8000", "Linux 6.1")
    switch = _device(placed_database, "r1", "sw")
    assert (switch.model, switch.vendor) == ("S1850", "Huawei")  # the empty vendor is filled


def test_the_agent_reports_its_cpu_architecture_as_no_model():
    from roomwatch.agent.runner import _host_info

    info = _host_info()
    assert info.model is None
    assert info.sys_descr is not None and platform.machine() in info.sys_descr


# --- latest state ------------------------------------------------------------------------------
def test_latest_state_keeps_the_newest_sample(placed_database: Database):
    disk = TableRow(labels={"mount": "D:"}, metrics={"used_pct": 71.5})
    newer = DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        rtt_ms=0.4,
        metrics={"cpu_pct": 12.5},
        tables={"disk": [disk]},
    )
    older = DeviceSample(device="host", kind="host", reachable=False, error="timeout")
    message = wire_metrics("agent-1", 1, T0, newer)
    with placed_database.session() as session:
        host = ingest_store.ensure_devices(session, "r1", message.devices)["host"]
        ingest_store.store_latest(session, host, message.devices[0], message.ts)
        ingest_store.store_latest(session, host, older, T0 - timedelta(minutes=1))
    with placed_database.session() as session:
        state = session.get_one(DeviceState, host.id)
        assert (state.reachable, state.rtt_ms, state.error, state.sampled_at) == (
            True,
            0.4,
            None,
            T0,
        )
        assert state.metrics == {"cpu_pct": 12.5}
        assert state.tables == {
            "disk": [{"labels": {"mount": "D:"}, "metrics": {"used_pct": 71.5}}]
        }
    later = DeviceSample(device="host", kind="host", reachable=False, error="timeout")
    with placed_database.session() as session:
        ingest_store.store_latest(session, host, later, T0 + timedelta(minutes=1))
    with placed_database.session() as session:
        state = session.get_one(DeviceState, host.id)
        assert (state.reachable, state.error, state.metrics) == (False, "timeout", {})


def test_non_finite_values_are_stored_as_null(placed_database: Database):
    sample = DeviceSample(
        device="host", kind="host", reachable=True, metrics={"temp_c": float("nan"), "x": 1.0}
    )
    with placed_database.session() as session:
        host = ingest_store.ensure_devices(session, "r1", [sample])["host"]
        ingest_store.store_latest(session, host, sample, T0)
        ingest_store.add_to_rollups(session, host, sample, T0)
    with placed_database.session() as session:
        assert session.get_one(DeviceState, host.id).metrics == {"temp_c": None, "x": 1.0}


def test_overlong_reported_text_is_clipped_to_its_column(placed_database: Database):
    info = DeviceInfo(device="cam9", kind="camera", model="M" * 500, firmware="F" * 300)
    message = InventoryMessage(
        agent="agent-1", seq=1, ts=T0, agent_version="v" * 100, hostname="h", devices=[info]
    )
    with placed_database.session() as session:
        ingest_store.apply_inventory_message(session, "r1", message)
    cam = _device(placed_database, "r1", "cam9")
    assert (len(cam.model or ""), len(cam.firmware or "")) == (200, 200)
