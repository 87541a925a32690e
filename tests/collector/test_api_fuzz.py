"""The API answers as its OpenAPI document says, for whatever a client sends.

A bounded, reproducible schemathesis run against the collector's app served by uvicorn on a
free port, over a real SQLite database holding a small inventory, two faults and a
maintenance window, with an admin's API token. Every operation gets a fixed
number of generated requests (valid and invalid ones); a 5xx, a request that does not end
within its timeout, a status the document does not list, or a body, content type or header
that does not match it fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import open_database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.auth_support import token_for
from tests.collector.conftest import small_inventory, sqlite_url
from tests.collector.http_support import served

EXAMPLES_PER_OPERATION = 20
REQUEST_TIMEOUT_S = 10.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass(frozen=True)
class FuzzTarget:
    url: str
    headers: dict[str, str]


def _seed(client: httpx.Client) -> None:
    """Things for the generated requests to find: two faults and a maintenance window."""
    for level, room in ((1, "r1"), (3, "r2")):
        client.post(
            "/api/faults",
            json={"room_id": room, "level": level, "title": "no picture", "reporter": "desk"},
        ).raise_for_status()
    now = datetime.now(UTC)
    client.post(
        "/api/maintenance-windows",
        json={
            "name": "cabling",
            "kind": "once",
            "room_id": "r1",
            "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
    ).raise_for_status()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    db = open_database(sqlite_url(Path(tmp_path_factory.mktemp("fuzz"))))
    sync_inventory(db, small_inventory())
    headers = {"Authorization": f"Bearer {token_for(db, 'fuzz-admin', 'admin')}"}
    app = create_app(db, CollectorRegistry(), database_gauges=False)
    try:
        with served(app) as url:
            with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
                _seed(client)
            yield FuzzTarget(url, headers)
    finally:
        app.state.report_jobs.shutdown()
        db.dispose()


def _fuzz(operation: Any, mode: GenerationMode, target: FuzzTarget) -> str | None:
    """Run one operation's generated requests; the failure found, if any."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=target.url, headers=target.headers, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
        )

    try:
        run()
    except Unsatisfiable:  # nothing to negate: every value of its parameters is valid
        return None
    except (Exception, BaseExceptionGroup) as exc:  # all operations' failures reported at once
        return f"{operation.label} ({mode}): {exc}"
    return None


def test_every_answer_is_documented(fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_target.url}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _fuzz(operation, mode, fuzz_target)
            if failure is not None:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)
