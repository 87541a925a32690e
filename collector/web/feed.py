"""Live updates for open pages: one poller per app, any number of Server-Sent Events streams.

While at least one browser listens, the poller reads the grid's snapshot from SQL every
``poll_s`` seconds (in a worker thread) and wakes the streams when it changed. SQL is the
source of truth, so this works the same with several collectors behind one database, and
costs nothing when nobody looks. The snapshot holds every site; each stream sends only what
its reader may see (``project``: the sites of a bound user), and only when that changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

Snapshot = Callable[[], dict[str, Any]]
# (the full snapshot, what the stream's reader may see) -> what the stream sends
Projection = Callable[[dict[str, Any], Any], dict[str, Any]]


class LiveFeed:
    def __init__(
        self,
        snapshot: Snapshot,
        poll_s: float,
        keepalive_s: float,
        lifetime_s: float = 300.0,
        project: Projection | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._project = project
        self._lifetime_s = lifetime_s
        self._poll_s = poll_s
        self._keepalive_s = keepalive_s
        self._payload: dict[str, Any] | None = None
        self._version = 0
        self._listeners = 0
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def stream(self, sees: Any = None) -> AsyncIterator[str]:
        """SSE text: ``event: rooms`` with the snapshot (projected on ``sees``) on every
        change of it, comments between.

        A stream ends after ``lifetime_s`` (the browser reconnects at once and gets a fresh
        snapshot), so no server waits long for live streams when it shuts down."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._listeners += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        try:
            yield f"retry: {int(self._poll_s * 1500)}\n\n"
            seen = 0  # version 0 = nothing read yet
            sent: dict[str, Any] | None = None
            ends = asyncio.get_running_loop().time() + self._lifetime_s
            while asyncio.get_running_loop().time() < ends:
                newer = await self._newer_than(seen)
                if newer is None:
                    yield ": keepalive\n\n"
                    continue
                seen, payload = newer
                if payload is not None and self._project is not None:
                    payload = self._project(payload, sees)
                if payload == sent:
                    yield ": keepalive\n\n"  # a change of other sites only
                    continue
                sent = payload
                yield f"event: rooms\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
        finally:
            self._listeners -= 1

    async def _newer_than(self, seen: int) -> tuple[int, dict[str, Any] | None] | None:
        """The snapshot once its version differs from ``seen``; None after keepalive_s."""
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._version != seen), self._keepalive_s
                )
            except TimeoutError:
                return None
            return self._version, self._payload

    async def _poll(self) -> None:
        while self._listeners > 0:
            try:
                payload = await run_in_threadpool(self._snapshot)
            except Exception as exc:  # a database hiccup must not end the live pages
                if not self._failing:
                    log.warning("live feed cannot read the database: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("live feed reads the database again")
                self._failing = False
                if payload != self._payload:
                    assert self._changed is not None
                    async with self._changed:
                        self._payload = payload
                        self._version += 1
                        self._changed.notify_all()
            await asyncio.sleep(self._poll_s)
