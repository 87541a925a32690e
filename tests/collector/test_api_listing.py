"""The dashboard's lists stay right and cheap: room summaries follow samples and faults that
arrive through the real ingest pipeline (into a real VictoriaMetrics, and SQLite or
PostgreSQL), lists page and filter, an unchanged answer is a 304 for the ETag the client
holds and a 200 after a change, a user bound to one site gets its own ETags, and large
answers travel gzipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.agent import wire
from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.api.listing import AnswerCache, CachedAnswer
from roomwatch.collector.config import IngestConfig, TsdbConfig
from roomwatch.collector.db import scope
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.ingest.pipeline import IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules
from tests.collector.auth_support import bearer

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
ROOMS_PER_SITE = 15


def _inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": site,
                    "name": f"Campus {site.upper()}",
                    "rooms": [
                        {
                            "id": f"{site}-{i:02d}",
                            "name": f"Lecture {site.upper()}{i:02d}",
                            "building": "Library" if i % 5 == 0 else "Main",
                            "agents": [f"agent-{site}-{i:02d}"],
                            "devices": [
                                {"id": "host", "kind": "host"},
                                {"id": "cam-1", "kind": "camera"},
                            ],
                        }
                        for i in range(ROOMS_PER_SITE)
                    ],
                }
                for site in ("north", "south")
            ]
        }
    )


class World:
    def __init__(self, database_url: str, tsdb_url: str) -> None:
        self.db: Database = open_database(database_url)
        sync_inventory(self.db, _inventory())
        self.now = T0
        self.seq = 0
        self.pipeline = IngestPipeline(
            self.db,
            TsdbWriter(TsdbConfig(url=tsdb_url)),
            FaultTracker(RuleEngine(load_rules())),
            IngestStats(CollectorRegistry()),
            IngestConfig(),
            clock=lambda: self.now,
        )
        self.tokens = {"all": self._token("viewer-all", []), "north": self._token("n", ["north"])}

    def _token(self, name: str, sites: list[str]) -> str:
        with self.db.session() as session:
            user = create_user(session, name, "viewer", T0)
            if sites:
                scope.bind_sites(session, user, sites)
            return issue_token(session, user, T0, name="test").secret

    def poll(self, room: str, camera_up: bool, temperature_c: float = 40.0) -> None:
        """One poll cycle of the room's agent, through the pipeline as MQTT would hand it."""
        self.seq += 1
        self.now += timedelta(seconds=10)
        camera = wire.DeviceSample(
            device="cam-1",
            kind="camera",
            reachable=camera_up,
            rtt_ms=2.0 if camera_up else None,
            metrics={"temperature_c": temperature_c} if camera_up else {},
        )
        host = wire.DeviceSample(device="host", kind="host", reachable=True, rtt_ms=0.1)
        agent = f"agent-{room}"
        message = wire.MetricsMessage(
            agent=agent, seq=self.seq, ts=self.now, interval_s=10, devices=[host, camera]
        )
        self.pipeline.process(
            [Received(wire.topic(agent, wire.Kind.METRICS), wire.encode(message))]
        )


@pytest.fixture
def world(database_url: str, victoria) -> Iterator[World]:
    """On SQLite and on PostgreSQL (a collector group's database)."""
    world = World(database_url, victoria.url)
    for site in ("north", "south"):
        for i in range(ROOMS_PER_SITE):
            world.poll(f"{site}-{i:02d}", camera_up=True)
    yield world
    world.db.dispose()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    app = create_app(world.db, CollectorRegistry(), clock=lambda: world.now)
    with TestClient(app, headers=bearer(world.tokens["all"])) as client:
        yield client


def _room(client: TestClient, room_id: str) -> dict[str, Any]:
    rooms = client.get("/api/rooms").json()
    return next(room for room in rooms if room["id"] == room_id)


def _until_open_fault(world: World, client: TestClient, room: str) -> dict[str, Any]:
    for _ in range(12):  # the rule's guard wants a few polls in a row
        world.poll(room, camera_up=False)
        summary = _room(client, room)
        if summary["open_fault_count"]:
            return summary
    raise AssertionError(f"no fault opened for {room}")


def test_the_room_summary_follows_samples_and_faults_as_they_arrive(
    world: World, client: TestClient
):
    before = _room(client, "north-03")
    assert (before["unreachable_count"], before["open_fault_count"]) == (0, 0)
    assert before["online"] is True

    world.poll("north-03", camera_up=False)
    assert _room(client, "north-03")["unreachable_count"] == 1

    faulty = _until_open_fault(world, client, "north-03")
    assert faulty["worst_open_level"] is not None
    faults = client.get("/api/faults", params={"status": "open", "room": "north-03"}).json()
    assert faults["total"] == faulty["open_fault_count"] >= 1
    assert client.get("/api/rooms/north-03").json()["room"]["open_fault_count"] >= 1

    for _ in range(12):  # back up: the fault resolves, the room is clear again
        world.poll("north-03", camera_up=True, temperature_c=44.5)
        if not _room(client, "north-03")["open_fault_count"]:
            break
    after = _room(client, "north-03")
    assert (after["unreachable_count"], after["open_fault_count"]) == (0, 0)
    assert client.get("/api/faults", params={"status": "open"}).json()["total"] == 0
    devices = {d["id"]: d for d in client.get("/api/rooms/north-03").json()["devices"]}
    assert devices["cam-1"]["state"]["metrics"]["temperature_c"] == 44.5


def test_an_unchanged_list_is_304_for_its_etag_and_200_after_a_change(
    world: World, client: TestClient
):
    for path in ("/api/rooms", "/api/rooms/south-07", "/api/faults?status=open"):
        first = client.get(path)
        tag = first.headers["etag"]
        assert first.status_code == 200 and tag.startswith('W/"')
        again = client.get(path, headers={"If-None-Match": tag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
        assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200

    rooms_tag = client.get("/api/rooms").headers["etag"]
    room_tag = client.get("/api/rooms/south-07").headers["etag"]
    other_room_tag = client.get("/api/rooms/south-08").headers["etag"]
    faults_tag = client.get("/api/faults?status=open").headers["etag"]
    _until_open_fault(world, client, "south-07")

    changed = client.get("/api/rooms", headers={"If-None-Match": rooms_tag})
    assert changed.status_code == 200 and changed.headers["etag"] != rooms_tag
    assert client.get("/api/rooms/south-07", headers={"If-None-Match": room_tag}).status_code == 200
    faults = client.get("/api/faults?status=open", headers={"If-None-Match": faults_tag})
    assert faults.status_code == 200 and faults.json()["total"] >= 1
    # A room nothing happened to keeps its tag.
    quiet = client.get("/api/rooms/south-08", headers={"If-None-Match": other_room_tag})
    assert quiet.status_code == 304


def test_a_user_bound_to_one_site_gets_its_own_list_and_etag(world: World, client: TestClient):
    everyone = client.get("/api/rooms")
    north = client.get("/api/rooms", headers=bearer(world.tokens["north"]))
    assert {r["site_id"] for r in north.json()} == {"north"}
    assert len(north.json()) == ROOMS_PER_SITE and len(everyone.json()) == 2 * ROOMS_PER_SITE
    assert north.headers["etag"] != everyone.headers["etag"]
    # The other scope's tag never turns into a 304 (nor into its cached body).
    crossed = client.get(
        "/api/rooms",
        headers={**bearer(world.tokens["north"]), "If-None-Match": everyone.headers["etag"]},
    )
    assert crossed.status_code == 200 and len(crossed.json()) == ROOMS_PER_SITE
    assert (
        client.get("/api/rooms/south-01", headers=bearer(world.tokens["north"])).status_code == 404
    )
    faults = client.get("/api/faults", headers=bearer(world.tokens["north"]))
    assert faults.headers["etag"] != client.get("/api/faults").headers["etag"]


def test_rooms_page_and_filter(world: World, client: TestClient):
    whole = client.get("/api/rooms").json()
    assert len(whole) == 2 * ROOMS_PER_SITE  # no limit: every room, as before

    seen: list[str] = []
    url: str | None = "/api/rooms?limit=7"
    while url is not None:
        page = client.get(url)
        assert page.headers["x-total-count"] == str(2 * ROOMS_PER_SITE)
        seen += [room["id"] for room in page.json()]
        link = page.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert seen == [room["id"] for room in whole]

    search = client.get("/api/rooms", params={"search": "library", "site": "south"}).json()
    assert [r["id"] for r in search] == ["south-00", "south-05", "south-10"]
    assert [r["id"] for r in client.get("/api/rooms", params={"search": "b07"}).json()] == []
    assert [r["id"] for r in client.get("/api/rooms", params={"search": "south07"}).json()] == [
        "south-07"
    ]

    _until_open_fault(world, client, "north-11")
    faulty = client.get("/api/rooms", params={"status": "faulty"}).json()
    assert [r["id"] for r in faulty] == ["north-11"]
    level = faulty[0]["worst_open_level"]
    assert [r["id"] for r in client.get("/api/rooms", params={"level": level}).json()] == [
        "north-11"
    ]
    if level > 1:
        assert client.get("/api/rooms", params={"level": level - 1}).json() == []
    ok = client.get("/api/rooms", params={"status": "ok", "limit": 100})
    assert ok.headers["x-total-count"] == str(2 * ROOMS_PER_SITE - 1)
    assert client.get("/api/rooms", params={"limit": 0}).status_code == 422
    assert client.get("/api/rooms", params={"status": "burning"}).status_code == 422


def test_faults_page_and_search(world: World, client: TestClient):
    for room in ("north-01", "north-02", "south-04"):
        _until_open_fault(world, client, room)
    page = client.get("/api/faults", params={"status": "open", "limit": 2}).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    rest = client.get("/api/faults", params={"status": "open", "limit": 2, "offset": 2}).json()
    ids = [f["id"] for f in page["items"] + rest["items"]]
    assert len(set(ids)) == 3
    found = client.get("/api/faults", params={"search": "SOUTH-04"}).json()
    assert [f["room_id"] for f in found["items"]] == ["south-04"]
    assert client.get("/api/faults", params={"search": "100%_"}).json()["total"] == 0


def test_large_answers_travel_gzipped_with_the_security_headers(client: TestClient):
    plain = client.get("/api/rooms", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 4096
    zipped = client.get("/api/rooms", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.json() == plain.json()  # the client unpacks it
    assert "content-security-policy" in zipped.headers
    schema = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert schema.headers["content-encoding"] == "gzip"  # any large answer, by the middleware
    assert "304" in schema.json()["paths"]["/api/rooms"]["get"]["responses"]


def test_the_answer_cache_is_bounded_by_bytes_and_drops_the_least_recently_used():
    cache = AnswerCache(max_bytes=2500)
    for tag in ("a", "b"):
        cache.put(tag, CachedAnswer(b"x" * 1000))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", CachedAnswer(b"y" * 1000))
    assert cache.get("b") is None and cache.get("a") is not None
    cache.put("huge", CachedAnswer(b"z" * 5000))  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.get("c") is not None
