"""A bad dashboard query parameter shows the page's error message in the reader's language,
not the API's JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.conftest import small_inventory, sqlite_url


@pytest.fixture
def placed_database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(sqlite_url(tmp_path))
    sync_inventory(db, small_inventory())
    yield db
    db.dispose()


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "Invalid value in the address: status"), ("zh-CN", "地址中的参数无效：status")],
)
def test_a_bad_filter_shows_an_error_page(placed_database: Database, lang: str, words: str):
    with TestClient(create_app(placed_database, CollectorRegistry())) as client:
        response = client.get("/ui/faults", params={"status": "weird", "lang": lang})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert words in response.text and '"error"' not in response.text


def test_the_api_still_answers_json(placed_database: Database):
    with TestClient(create_app(placed_database, CollectorRegistry())) as client:
        response = client.get("/api/faults", params={"status": "weird"})
    assert response.status_code in (401, 422)
    assert response.headers["content-type"].startswith("application/json")
