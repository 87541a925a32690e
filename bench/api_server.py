"""The collector's API alone, as ``roomwatch collector`` serves it, for ``api_latency.py``.

    .venv/bin/python bench/api_server.py --database sqlite:///F --port P

The same ``create_app`` on the same uvicorn settings as ``CollectorService.serve`` (no MQTT,
no ingest: only the reads are measured), plus ``GET /bench/floor``, a route that returns a
constant without touching the database: the framework's floor, the peer of every endpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roomwatch.collector.api.app import create_app  # noqa: E402
from roomwatch.collector.db.session import open_database  # noqa: E402

FLOOR_PATH = "/bench/floor"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    db = open_database(args.database, migrate=False)
    app = create_app(db, CollectorRegistry())

    @app.get(FLOOR_PATH, include_in_schema=False)
    def floor() -> dict[str, str]:
        return {"status": "ok"}

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    )
    server.run()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
