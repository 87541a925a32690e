"""What the API's HTTP edge promises: bodies over the limit refused unread, security headers
on every answer, one error shape, integers bounded, every error status documented.

The app runs under a real uvicorn on a free port (a raw socket must be able to send a
Content-Length it never honours) over a real SQLite database.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.auth_support import token_for
from tests.collector.conftest import small_inventory, sqlite_url
from tests.collector.http_support import served

SMALL_LIMIT_BYTES = 4096
FAULT = {"room_id": "r1", "level": 2, "title": "no sound", "reporter": "desk"}


@dataclass(frozen=True)
class Api:
    url: str
    admin: dict[str, str]
    small_limit_url: str  # the same collector with max_body_bytes = SMALL_LIMIT_BYTES


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = open_database(sqlite_url(Path(tmp_path_factory.mktemp("guard"))))
    sync_inventory(database, small_inventory())
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def api(db: Database) -> Iterator[Api]:
    admin = {"Authorization": f"Bearer {token_for(db, 'guard-admin', 'admin')}"}
    default = create_app(db, CollectorRegistry(), database_gauges=False)
    small = create_app(
        db, CollectorRegistry(), database_gauges=False, max_body_bytes=SMALL_LIMIT_BYTES
    )
    with served(default) as url, served(small) as small_url:
        yield Api(url, admin, small_url)


def _raw_exchange(url: str, head: bytes, body_start: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a request head and the first bytes of its body; read the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body_start)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes: it will not read the rest
            answer += chunk
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_a_huge_body_without_credentials_is_refused_before_it_is_read(api: Api) -> None:
    declared = 300 * 1024 * 1024
    head = (
        b"POST /api/faults HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % declared
    )
    # Only 12 of the 300 MB are ever sent: an answer at all proves nothing waited for them.
    status, headers, body = _raw_exchange(api.url, head, b'{"room_id": ')
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"] == "content_too_large"
    assert httpx.get(f"{api.url}/healthz").status_code == 200


def test_a_streamed_body_is_cut_off_at_the_limit(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    refused = httpx.post(
        f"{api.small_limit_url}/api/faults",
        content=chunks(),
        headers={**api.admin, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "content_too_large",
        "detail": f"the request body is larger than {SMALL_LIMIT_BYTES} bytes",
    }
    within = httpx.post(f"{api.small_limit_url}/api/faults", json=FAULT, headers=api.admin)
    assert within.status_code == 201


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/rooms", 401),
        ("/api/nowhere", 404),
        ("/healthz", 200),
        ("/ui/login", 200),
        ("/ui/static/app.js", 200),
    ],
)
def test_every_answer_carries_the_security_headers(api: Api, path: str, status: int) -> None:
    response = httpx.get(f"{api.url}{path}")
    assert response.status_code == status
    policy = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_routing_and_credential_errors_take_the_error_shape(api: Api) -> None:
    unknown = httpx.get(f"{api.url}/api/nowhere", headers=api.admin)
    assert unknown.json() == {"error": "not_found", "detail": "Not Found"}
    wrong_method = httpx.delete(f"{api.url}/api/rooms", headers=api.admin)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "GET"
    anonymous = httpx.get(f"{api.url}/api/rooms")
    assert anonymous.json() == {"error": "unauthorized", "detail": "credentials missing or invalid"}
    assert anonymous.headers["www-authenticate"] == "Bearer"


def test_a_validation_error_names_the_field_and_never_echoes_the_input(api: Api) -> None:
    refused = httpx.post(
        f"{api.url}/api/auth/login", json={"username": ["alice"], "password": "hunter2-secret"}
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "invalid_request"
    assert [p["loc"] for p in body["problems"]] == [["body", "username"]]
    assert "hunter2-secret" not in refused.text


@pytest.mark.parametrize(
    ("method", "path", "payload", "where"),
    [
        ("GET", "/api/sla/faults/17680398998426056704/clocks", None, ["path", "fault_id"]),
        ("GET", "/api/faults/9223372036854775808", None, ["path", "fault_id"]),
        ("GET", "/api/faults?offset=9223372036854775808", None, ["query", "offset"]),
        (
            "POST",
            "/api/users/guard-admin/tokens",
            {"expires_days": 9007199254740992},
            ["body", "expires_days"],
        ),
        ("PUT", "/api/spares/s1/CAM-A", {"held": 2**63}, ["body", "held"]),
    ],
)
def test_integers_past_what_the_database_stores_are_invalid(
    api: Api, method: str, path: str, payload: object, where: list[str]
) -> None:
    answer = httpx.request(method, f"{api.url}{path}", json=payload, headers=api.admin)
    assert answer.status_code == 422
    assert where in [p["loc"] for p in answer.json()["problems"]]


def test_the_openapi_document_lists_every_error_in_the_shape(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path)
    one_fault = document["paths"]["/api/faults/{fault_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422"} <= one_fault.keys()
    report = document["paths"]["/api/faults"]["post"]["responses"]
    assert {"400", "401", "403", "413", "422"} <= report.keys()
    sign_in = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert "403" not in sign_in  # no credentials needed, none refused
