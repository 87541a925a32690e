"""The inventory file: strict loading with readable errors, and an idempotent SQL sync."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from roomwatch.agent.errors import ConfigError
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.models import Agent, Device, Room, Site
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, load_inventory, sync_inventory
from tests.collector.conftest import small_inventory

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "inventory.yaml"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _room(room_id: str, agents: list[str], devices: list[dict] | None = None) -> dict:
    return {"id": room_id, "name": room_id.upper(), "agents": agents, "devices": devices or []}


def _site(*rooms: dict, site_id: str = "s1") -> dict:
    return {"id": site_id, "name": "School", "rooms": list(rooms)}


# --- the example file ------------------------------------------------------------------------
def test_the_example_inventory_is_valid_and_complete():
    inventory = load_inventory(EXAMPLE)
    rooms = [room for _, room in inventory.rooms()]
    assert len(rooms) >= 3 and len({room.building for room in rooms}) >= 2
    for room in rooms:
        kinds = sorted(device.kind for device in room.devices)
        assert kinds == ["camera", "camera", "encoder", "host", "switch", "ups"], room.id
        parents = {device.kind: device.parent for device in room.devices}
        ups = next(d.id for d in room.devices if d.kind == "ups")
        switch = next(d.id for d in room.devices if d.kind == "switch")
        assert parents["encoder"] == switch and parents["switch"] == ups
        assert parents["host"] == ups and parents["ups"] is None
        assert all(d.parent == switch for d in room.devices if d.kind == "camera")
        assert len(room.agents) == 1


def test_the_example_inventory_syncs(database: Database):
    report = sync_inventory(database, load_inventory(EXAMPLE))
    assert (report.rooms, report.agents, report.devices) == (3, 3, 18)
    with database.session() as session:
        assert ingest_store.agent_room(session, "rec-b201") == "nfls-b201"


# --- readable errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"sites": [_site(_room("r1", ["a1"]) | {"nmae": "x"})]},
            "sites.0.rooms.0.nmae: unknown key (expected one of: agents, building, devices, id",
        ),
        (
            {"sites": [_site(_room("r1", ["a1"]), _room("r2", ["a1"]))]},
            "sites: agent id 'a1' is listed 2 times (rooms r1, r2)",
        ),
        (
            {"sites": [_site(_room("r1", ["a1"])), _site(_room("r1", ["a2"]), site_id="s2")]},
            "sites: room id 'r1' is used 2 times",
        ),
        ({"sites": [_site(), _site()]}, "sites: site id 's1' is used 2 times"),
        (
            {
                "sites": [
                    _site(_room("r1", ["a1"], [{"id": "cam", "kind": "camera", "parent": "sw"}]))
                ]
            },
            "sites.0.rooms.0.devices: device 'cam': parent 'sw' is not in this room",
        ),
        (
            {"sites": [_site(_room("r1", ["a1"], [{"id": "x", "kind": "ups"}] * 2))]},
            "sites.0.rooms.0.devices: device id 'x' is used 2 times",
        ),
        (
            {
                "sites": [
                    _site(
                        _room(
                            "r1",
                            ["a1"],
                            [
                                {"id": "a", "kind": "switch", "parent": "b"},
                                {"id": "b", "kind": "switch", "parent": "a"},
                            ],
                        )
                    )
                ]
            },
            "parent links form a loop through device 'a'",
        ),
        (
            {"sites": [_site(_room("r1", ["a1"], [{"id": "cam", "kind": "Camera"}]))]},
            "sites.0.rooms.0.devices.0.kind: String should match pattern",
        ),
        (
            {"sites": [_site() | {"timezone": "Asia/Beijing"}]},
            "sites.0.timezone: unknown time zone (expected an IANA name such as Asia/Shanghai)",
        ),
        ({"sites": [_site(_room("r1", ["bad agent"]))]}, "sites.0.rooms.0.agents.0:"),
        ({"sites": [_site(_room("r1", []) | {"name": None})]}, "sites.0.rooms.0.name:"),
        ({"rooms": []}, "rooms: unknown key (expected one of: sites)"),
    ],
)
def test_a_wrong_inventory_names_the_file_the_key_and_the_problem(tmp_path, data, expected):
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "Traceback" not in message and "Value error" not in message


def test_a_missing_or_broken_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_inventory(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("sites:\n  - id: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_inventory(broken)


def test_an_empty_file_is_an_empty_inventory(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_inventory(path) == Inventory()


# --- sync --------------------------------------------------------------------------------------
def _counts(db: Database) -> tuple[int, ...]:
    with db.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Site, Room, Agent, Device)
        )


def test_sync_is_idempotent(database: Database):
    first = sync_inventory(database, small_inventory())
    after_first = _counts(database)
    second = sync_inventory(database, small_inventory())
    assert first == second
    assert _counts(database) == after_first == (1, 2, 2, 4)
    with database.session() as session:
        cam = session.scalars(select(Device).where(Device.device == "cam1")).one()
        expected = ("r1", "camera", "CAM-A", "sw", "inventory")
        assert (cam.room_id, cam.kind, cam.model, cam.parent, cam.source) == expected


def test_sync_applies_changes_and_keeps_what_agents_reported(database: Database):
    sync_inventory(database, small_inventory())
    with database.session() as session:
        device = session.scalars(select(Device).where(Device.device == "cam1")).one()
        device.firmware = "V5.7"  # reported by the agent, unknown to the file
    data = small_inventory().model_dump()
    room1 = data["sites"][0]["rooms"][0]
    room1["name"] = "Room 1 (renamed)"
    room1["agents"] = ["agent-1b"]
    room1["devices"] = [d for d in room1["devices"] if d["id"] != "sw"]
    room1["devices"][1] |= {"model": None, "vendor": "Hikvision", "parent": None}
    report = sync_inventory(database, Inventory.model_validate(data))
    assert (report.agents_unplaced, report.devices_unlisted) == (1, 1)
    with database.session() as session:
        assert session.get_one(Room, "r1").name == "Room 1 (renamed)"
        assert ingest_store.agent_room(session, "agent-1") is None
        assert ingest_store.agent_room(session, "agent-1b") == "r1"
        cam = session.scalars(select(Device).where(Device.device == "cam1")).one()
        # model: no longer in the file, kept; parent: the file's room graph, so removed.
        assert (cam.model, cam.vendor, cam.firmware, cam.parent) == (
            "CAM-A",
            "Hikvision",
            "V5.7",
            None,
        )
        switch = session.scalars(select(Device).where(Device.device == "sw")).one()
        assert switch.source == "agent"
    sync_inventory(database, small_inventory())  # listed again: back to inventory
    with database.session() as session:
        switch = session.scalars(select(Device).where(Device.device == "sw")).one()
        assert switch.source == "inventory"
        assert ingest_store.agent_room(session, "agent-1") == "r1"
