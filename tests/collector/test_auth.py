"""Users and roles: 401 without credentials, 403 for a viewer writing, an engineer
acknowledges, an admin edits rules and users (only admins see who changed a rule); tokens
and sessions are hashed at rest, shown once, revocable; secrets never appear in logs or
responses; the CLI creates the first admin."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from roomwatch.collector.api.app import create_app
from roomwatch.collector.cli import main
from roomwatch.collector.db import scope
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.users_store import get_user
from roomwatch.collector.db.workflow_models import ApiToken, User
from tests.collector.auth_support import bearer, token_for
from tests.collector.scenario_support import T0, Clock

PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def client(placed_database: Database, clock: Clock) -> Iterator[TestClient]:
    app = create_app(placed_database, CollectorRegistry(), clock=clock)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def tokens(placed_database: Database) -> dict[str, str]:
    return {
        role: token_for(placed_database, f"{role}-user", role, password=PASSWORD)
        for role in ("viewer", "engineer", "admin")
    }


def report(client: TestClient, token: str) -> int:
    body = {"room_id": "r1", "level": 3, "title": "Mic crackles", "reporter": "phone"}
    response = client.post("/api/faults", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_without_credentials_every_api_route_is_401_but_health_and_metrics_are_open(
    client: TestClient,
):
    for path in ("/api/rooms", "/api/faults", "/api/rules", "/api/maintenance-windows"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/faults", json={}).status_code == 401
    assert client.get("/api/faults", headers=bearer("rw_not-a-token")).status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_a_viewer_reads_but_may_not_write(client: TestClient, tokens: dict[str, str]):
    fid = report(client, tokens["engineer"])
    viewer = bearer(tokens["viewer"])
    assert client.get(f"/api/faults/{fid}", headers=viewer).status_code == 200
    assert client.get("/api/rooms", headers=viewer).status_code == 200
    for path in (f"/api/faults/{fid}/acknowledge", f"/api/faults/{fid}/remote-sessions"):
        response = client.post(path, json={}, headers=viewer)
        assert response.status_code == 403, path
    window = {
        "name": "w",
        "kind": "dates",
        "room_id": "r1",
        "date_from": "2026-07-01",
        "date_to": "2026-08-31",
    }
    assert client.post("/api/maintenance-windows", json=window, headers=viewer).status_code == 403


def test_an_engineer_acknowledges_but_may_not_edit_rules_or_users(
    client: TestClient, tokens: dict[str, str]
):
    fid = report(client, tokens["engineer"])
    engineer = bearer(tokens["engineer"])
    acked = client.post(f"/api/faults/{fid}/acknowledge", json={}, headers=engineer)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    override = {"when": {"op": ">=", "value": 95}, "clear": {"op": "<", "value": 90}}
    put = client.put("/api/rules/disk_nearly_full/overrides/s1", json=override, headers=engineer)
    assert put.status_code == 403
    assert client.get("/api/users", headers=engineer).status_code == 403


def test_an_admin_edits_a_rule_for_a_site_and_manages_users(
    client: TestClient, tokens: dict[str, str]
):
    admin = bearer(tokens["admin"])
    override = {"when": {"op": ">=", "value": 95}, "clear": {"op": "<", "value": 90}}
    put = client.put("/api/rules/disk_nearly_full/overrides/s1", json=override, headers=admin)
    assert put.status_code == 200, put.text
    rules = {r["id"]: r for r in client.get("/api/rules?site=s1", headers=admin).json()}
    assert rules["disk_nearly_full"]["when"] == {"op": ">=", "value": 95.0}
    assert rules["disk_nearly_full"]["overridden"] is True
    everywhere = {r["id"]: r for r in client.get("/api/rules", headers=admin).json()}
    assert everywhere["disk_nearly_full"]["when"] == {"op": ">=", "value": 90.0}
    bad = {"when": {"op": ">=", "value": 80}, "clear": {"op": "<", "value": 90}}
    overlap = client.put("/api/rules/disk_nearly_full/overrides/s1", json=bad, headers=admin)
    assert overlap.status_code == 422 and "both hold" in overlap.json()["detail"]

    created = client.post(
        "/api/users",
        json={"username": "wang", "role": "engineer", "password": "s3cret-enough"},
        headers=admin,
    )
    assert created.status_code == 201 and "password" not in created.text
    assert (
        client.post(
            "/api/users", json={"username": "wang", "role": "viewer"}, headers=admin
        ).status_code
        == 409
    )
    demote = client.patch("/api/users/admin-user", json={"role": "viewer"}, headers=admin)
    assert demote.status_code == 409  # the last admin stays one


def test_who_changed_a_rule_override_is_shown_to_admins_only(
    client: TestClient, placed_database: Database, tokens: dict[str, str]
):
    school = token_for(placed_database, "zhou", "school")
    with placed_database.session(write=True) as session:
        scope.bind_sites(session, get_user(session, "zhou"), ["s1"])
    admin = bearer(tokens["admin"])
    for site in ("s1", "*"):
        url = f"/api/rules/disk_nearly_full/overrides/{site}"
        put = client.put(url, json={"enabled": False}, headers=admin)
        assert put.json()["updated_by"] == "admin-user", put.text
    for who, token, shown in [("admin", tokens["admin"], "admin-user"), ("school", school, None),
                              ("engineer", tokens["engineer"], None),
                              ("viewer", tokens["viewer"], None)]:  # fmt: skip
        listed = client.get("/api/rules/overrides", headers=bearer(token))
        overrides = sorted((o["site_id"], o["updated_by"]) for o in listed.json())
        assert overrides == [("*", shown), ("s1", shown)], who
        if shown is None:
            assert "admin-user" not in listed.text, who
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    field = schemas["RuleOverrideOut"]["properties"]["updated_by"]
    assert {"type": "null"} in field["anyOf"] and "admins" in field["description"]


def test_tokens_are_hashed_at_rest_shown_once_and_revocable(
    client: TestClient, placed_database: Database, tokens: dict[str, str]
):
    engineer = bearer(tokens["engineer"])
    issued = client.post(
        "/api/users/engineer-user/tokens", json={"name": "laptop"}, headers=engineer
    )
    assert issued.status_code == 201
    secret = issued.json()["token"]
    listed = client.get("/api/users/engineer-user/tokens", headers=engineer).text
    assert secret not in listed and issued.json()["info"]["prefix"] in listed
    with placed_database.session() as session:
        rows = list(session.scalars(select(ApiToken)))
        users = list(session.scalars(select(User)))
    assert all(secret not in (row.token_hash, row.prefix) for row in rows)
    assert hashlib.sha256(secret.encode()).hexdigest() in {row.token_hash for row in rows}
    assert all(u.password_hash and u.password_hash.startswith("$argon2") for u in users)
    assert client.get("/api/faults", headers=bearer(secret)).status_code == 200
    token_id = issued.json()["info"]["id"]
    revoked = client.delete(f"/api/users/engineer-user/tokens/{token_id}", headers=engineer)
    assert revoked.status_code == 204
    assert client.get("/api/faults", headers=bearer(secret)).status_code == 401
    other = client.post("/api/users/admin-user/tokens", json={}, headers=engineer)
    assert other.status_code == 403


def test_a_disabled_user_is_refused(client: TestClient, tokens: dict[str, str]):
    admin = bearer(tokens["admin"])
    assert (
        client.patch("/api/users/viewer-user", json={"active": False}, headers=admin).status_code
        == 200
    )
    assert client.get("/api/faults", headers=bearer(tokens["viewer"])).status_code == 401


def test_session_cookie_sign_in_needs_the_header_to_write_and_sign_out_ends_it(
    client: TestClient, tokens: dict[str, str]
):
    wrong = client.post("/api/auth/login", json={"username": "engineer-user", "password": "nope"})
    assert wrong.status_code == 401
    signed = client.post(
        "/api/auth/login", json={"username": "engineer-user", "password": PASSWORD}
    )
    assert signed.status_code == 200 and signed.json()["role"] == "engineer"
    cookie = signed.cookies.get("roomwatch_session")
    assert cookie and "httponly" in signed.headers["set-cookie"].lower()
    assert client.get("/api/auth/me").json()["via"] == "session"
    body = {"room_id": "r1", "level": 4, "title": "How to export?", "reporter": "phone"}
    assert client.post("/api/faults", json=body).status_code == 403  # no X-Requested-With
    ok = client.post("/api/faults", json=body, headers={"X-Requested-With": "roomwatch"})
    assert ok.status_code == 201
    assert client.post("/api/auth/logout").status_code == 204
    client.cookies.set("roomwatch_session", cookie)
    assert client.get("/api/faults").status_code == 401


def _sign_in(client: TestClient, username: str, password: str) -> int:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code


def test_password_guessing_is_refused_after_five_failures_for_a_name(
    client: TestClient, tokens: dict[str, str], clock: Clock
):
    assert [_sign_in(client, "engineer-user", f"guess-{n}") for n in range(5)] == [401] * 5
    refused = client.post(
        "/api/auth/login", json={"username": "Engineer-User", "password": PASSWORD}
    )
    assert refused.status_code == 429  # even the right password: it is not checked
    assert 890 <= int(refused.headers["retry-after"]) <= 900
    assert _sign_in(client, "viewer-user", PASSWORD) == 200  # other names are not held
    clock.now = T0 + timedelta(minutes=15)
    assert _sign_in(client, "engineer-user", PASSWORD) == 200
    assert _sign_in(client, "engineer-user", "guess-6") == 401  # the success forgot them


def test_one_address_trying_many_names_is_refused_after_twenty_failures(
    client: TestClient, tokens: dict[str, str]
):
    assert {_sign_in(client, f"name-{n}", "guess") for n in range(20)} == {401}
    assert _sign_in(client, "admin-user", PASSWORD) == 429


def test_secrets_never_reach_the_logs(
    client: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    admin = bearer(tokens["admin"])
    issued = client.post("/api/users/admin-user/tokens", json={"name": "ci"}, headers=admin)
    secret = issued.json()["token"]
    client.post("/api/auth/login", json={"username": "admin-user", "password": PASSWORD})
    client.post("/api/auth/login", json={"username": "admin-user", "password": "guess-1234"})
    client.get("/api/faults", headers=bearer(secret))
    text = caplog.text
    assert secret not in text and tokens["admin"] not in text
    assert PASSWORD not in text and "guess-1234" not in text
    assert "failed sign-in" in text


def test_the_cli_creates_the_first_admin_and_prints_a_working_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    config = tmp_path / "collector.yaml"
    config.write_text(f"database:\n  url: {db_url}\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = main(
        [
            "collector",
            "--config",
            str(config),
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--password-stdin",
            "--token",
        ]
    )
    assert code == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("rw_") and "\n" not in token
    assert main(["collector", "--config", str(config), "user", "list"]) == 0
    assert capsys.readouterr().out.strip() == "root\tadmin"
    assert (
        main(
            [
                "collector",
                "--config",
                str(config),
                "user",
                "add",
                "root",
                "--role",
                "viewer",
                "--no-password",
            ]
        )
        == 2
    )
    from roomwatch.collector.db.session import open_database

    db = open_database(db_url)
    try:
        with TestClient(create_app(db, CollectorRegistry())) as client:
            me = client.get("/api/auth/me", headers=bearer(token))
            assert me.json()["role"] == "admin"
            signed = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
            assert signed.status_code == 200
    finally:
        db.dispose()


def test_sign_ins_count_before_their_password_is_checked(database: Database):
    """Concurrent guesses all in flight at once: the sixth is refused even though none of
    the first five has failed yet; a success takes back its own count."""
    from roomwatch.collector.api.throttle import SignInThrottle, TooManySignIns

    throttle = SignInThrottle(database)
    in_flight = [throttle.attempt("li.wei", "10.0.0.7", T0) for _ in range(5)]
    with pytest.raises(TooManySignIns):
        throttle.attempt("li.wei", "10.0.0.7", T0)
    with database.session(write=True) as session:  # one of them had the right password
        throttle.succeeded(in_flight[0], session)
    for n in range(16):  # the address has 20; the success gave its count back
        throttle.attempt(f"other-{n}", "10.0.0.7", T0)
    with pytest.raises(TooManySignIns):
        throttle.attempt("someone", "10.0.0.7", T0)


def _session_of(client: TestClient, username: str) -> str:
    signed = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    client.cookies.clear()  # each session is used explicitly below
    return str(signed.cookies.get("roomwatch_session"))


def _works(client: TestClient, headers: dict[str, str]) -> bool:
    status = client.get("/api/auth/me", headers=headers).status_code
    assert status in (200, 401)
    return status == 200


def _cookie(session: str) -> dict[str, str]:
    return {"Cookie": f"roomwatch_session={session}"}


def test_an_admin_changing_a_password_revokes_all_that_users_tokens_and_sessions(
    client: TestClient, tokens: dict[str, str]
):
    web = _session_of(client, "engineer-user")
    assert _works(client, bearer(tokens["engineer"])) and _works(client, _cookie(web))

    new = {"password": "a brand new passphrase"}
    changed = client.patch("/api/users/engineer-user", json=new, headers=bearer(tokens["admin"]))

    assert changed.status_code == 200
    assert not _works(client, bearer(tokens["engineer"]))
    assert not _works(client, _cookie(web))
    assert _works(client, bearer(tokens["viewer"])) and _works(client, bearer(tokens["admin"]))
    assert _sign_in(client, "engineer-user", PASSWORD) == 401
    assert _sign_in(client, "engineer-user", new["password"]) == 200


def test_an_admin_changing_their_own_password_keeps_only_the_session_they_used(
    client: TestClient, tokens: dict[str, str]
):
    used, other = _session_of(client, "admin-user"), _session_of(client, "admin-user")
    headers = {**_cookie(used), "X-Requested-With": "roomwatch"}

    new = {"password": "a brand new passphrase"}
    assert client.patch("/api/users/admin-user", json=new, headers=headers).status_code == 200

    assert _works(client, _cookie(used))
    assert not _works(client, _cookie(other))
    assert not _works(client, bearer(tokens["admin"]))


def test_the_cli_sets_a_password_and_revokes_the_users_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    db_url = f"sqlite:///{tmp_path / 'c.db'}"
    config = tmp_path / "collector.yaml"
    config.write_text(f"database:\n  url: {db_url}\n")
    cli = ["collector", "--config", str(config), "user"]
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*cli, "add", "root", "--role", "admin", "--password-stdin", "--token"]) == 0
    token = capsys.readouterr().out.strip()
    new_password = "another long passphrase"
    monkeypatch.setattr("sys.stdin", io.StringIO(new_password + "\n"))

    assert main([*cli, "password", "root", "--password-stdin"]) == 0

    output = capsys.readouterr()
    assert "1 tokens and sessions revoked" in output.err
    assert new_password not in output.out + output.err
    from roomwatch.collector.db.session import open_database

    db = open_database(db_url)
    try:
        with TestClient(create_app(db, CollectorRegistry())) as client:
            assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401
            assert _sign_in(client, "root", PASSWORD) == 401
            assert _sign_in(client, "root", new_password) == 200
    finally:
        db.dispose()
