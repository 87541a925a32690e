"""Which address the sign-in limits count: the connecting one, unless a listed proxy says
otherwise in ``X-Forwarded-For`` (``api.forwarded_allow_ips``, empty by default).

The collector's own HTTP server settings (``CollectorService.http_config``) on a real port:
a guesser on the collector's host who sends a fresh ``X-Forwarded-For`` with every attempt
must still be counted as one address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from roomwatch.collector.api.throttle import PER_ADDRESS
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.demo.procs import free_port, wait_for
from roomwatch.collector.runner import CollectorService


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**api: object) -> str:
        config = CollectorConfig.model_validate(
            {
                "database": {"url": f"sqlite:///{tmp_path / 'collector.db'}"},
                "tsdb": {"enabled": False},
                "api": {"port": free_port(), **api},
            }
        )
        server = uvicorn.Server(CollectorService(config).http_config())
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        wait_for(lambda: server.started, 15, "collector HTTP server")
        return f"http://127.0.0.1:{config.api.port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def guess_from_many_addresses(url: str, attempts: int) -> list[int]:
    """Failed sign-ins, each for a new user name and claiming a new client address."""
    statuses = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for n in range(attempts):
            response = client.post(
                "/api/auth/login",
                json={"username": f"guess-{n}", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(response.status_code)
    return statuses


def test_by_default_x_forwarded_for_is_ignored_and_the_guesser_is_limited(serve) -> None:
    url = serve()

    statuses = guess_from_many_addresses(url, PER_ADDRESS + 1)

    assert statuses[:PER_ADDRESS] == [401] * PER_ADDRESS
    assert statuses[PER_ADDRESS] == 429  # one address, whatever the header claimed


def test_a_listed_proxy_names_the_client_so_each_address_is_counted_apart(serve) -> None:
    url = serve(forwarded_allow_ips=["127.0.0.1"])

    statuses = guess_from_many_addresses(url, PER_ADDRESS + 1)

    assert statuses == [401] * (PER_ADDRESS + 1)
