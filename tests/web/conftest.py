"""Fixtures of the dashboard tests: a real browser, and a collector fed by the real pipeline.

- ``browser``: Debian's chromium (``/usr/bin/chromium``) driven by Playwright; a missing
  chromium or Playwright FAILS the test (``apt-get install chromium``), it never skips, and
  no browser is ever downloaded.
- ``web_stack``: mosquitto (ACL), VictoriaMetrics, one simulated classroom (snmpd devices, a
  recorder stand-in, a real agent process) and an in-process collector whose app (API and
  dashboard) is served by uvicorn on a free port; rooms without an agent beside it; users
  ``viewer`` and ``engineer`` with passwords.
- ``page_as``: a fresh browser page, signed in through the login form as a role.
- ``shot``: saves a screenshot under ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from roomwatch.collector.api.auth import create_user
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.procs import free_port, wait_for
from roomwatch.collector.demo.rooms import SimRoom
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.runner import CollectorService
from tests.collector.conftest import database, database_url  # noqa: F401 - SQLite and PostgreSQL

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ROOM, AGENT = "room-101", "agent-101"
PASSWORDS = {"viewer": "viewer-pass-1", "engineer": "engineer-pass-1"}
SITE_TZ = "Asia/Shanghai"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium; fails (never skips) when it or Playwright is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class LiveServer:
    """The collector's FastAPI app on a real HTTP port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="on",  # as the collector serves it: the report worker runs
                timeout_graceful_shutdown=1,
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, 15, "dashboard HTTP server")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class WebStack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker = MosquittoBroker(tmp / "broker")
        self.tsdb = VictoriaMetrics(tmp / "tsdb")
        self.room = SimRoom(
            ROOM, AGENT, tmp / ROOM, password=secrets.token_urlsafe(12), interval_s=1.0
        )
        self.collector_password = secrets.token_urlsafe(12)
        self.service: CollectorService | None = None
        self.server: LiveServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self) -> None:
        self.broker.add_user("collector", self.collector_password, collector=True)
        self.broker.add_user(AGENT, self.room.password)
        self.broker.start()
        self.tsdb.start()
        self.room.start_devices()
        self.room.start_recorder()
        inventory = self.tmp / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(self._inventory(), sort_keys=False))
        config = CollectorConfig.model_validate(
            {
                "mqtt": {
                    "port": self.broker.port,
                    "username": "collector",
                    "password": self.collector_password,
                    "client_id": "web-collector",
                },
                "tsdb": {"url": self.tsdb.url},
                "database": {"url": f"sqlite:///{self.tmp / 'collector.db'}"},
                "inventory_file": str(inventory),
                "ingest": {"batch_wait_s": 0.05},
                "timezone": "UTC",
            }
        )
        self.service = CollectorService(config)
        self._add_users()
        self.service.start()
        self.server = LiveServer(self.service.app())
        self.server.start()
        self.room.start_agent(self.broker.port)

    def _inventory(self) -> dict[str, Any]:
        return {
            "sites": [
                {
                    "id": "campus",
                    "name": "East Campus",
                    "timezone": SITE_TZ,
                    "rooms": [
                        {
                            "id": ROOM,
                            "name": "Room 101",
                            "building": "Library",
                            "agents": [AGENT],
                            "devices": self.room.inventory_devices(),
                        },
                        {"id": "room-102", "name": "Room 102", "building": "Library"},
                    ],
                },
                {
                    "id": "west",
                    "name": "West Campus",
                    "rooms": [{"id": "room-201", "name": "Room 201", "building": "Lab"}],
                },
            ]
        }

    def _add_users(self) -> None:
        assert self.service is not None
        now = datetime.now(UTC)
        with self.service.db.session() as session:
            for role, password in PASSWORDS.items():
                create_user(session, role, role, now, password=password)

    def stop(self) -> None:
        self.room.stop()
        if self.server is not None:
            self.server.stop()
        if self.service is not None:
            self.service.stop()
        self.tsdb.stop()
        self.broker.close()


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    stack = WebStack(Path(tmp_path_factory.mktemp("web")))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def page_as(browser: Any, web_stack: WebStack) -> Iterator[Callable[..., Any]]:
    """``page_as("engineer")``: a new page signed in through the login form."""
    contexts: list[Any] = []

    def open_page(role: str | None, width: int = 1280, height: int = 860) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.script_errors = errors
        refused: list[str] = []  # what the Content-Security-Policy blocked
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text and refused.append(message.text)
            ),
        )
        page.policy_violations = refused
        if role is not None:
            page.goto(f"{web_stack.url}/ui/login")
            page.fill("input[name=username]", role)
            page.fill("input[name=password]", PASSWORDS[role])
            page.click("button[type=submit]")
            page.wait_for_url(f"{web_stack.url}/ui/")
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shot() -> Callable[[Any, str], Path]:
    """``shot(page, "grid")`` → test-artifacts/grid.png (whole page)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
