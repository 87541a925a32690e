"""The hand-over from the MQTT thread to the ingest worker: put one, take a batch.

``queue.Queue`` woke the worker and took its lock once per message; here the worker is woken
only when a batch can start (the first message) or is full, and takes the batch in one go.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, Protocol, TypeVar


class _Timed(Protocol):
    @property
    def received_s(self) -> float: ...


T = TypeVar("T", bound=_Timed)


class Inbox(Generic[T]):
    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._wanted = 1  # how many items the waiting worker needs before it wakes

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        """Called from the MQTT thread for every message."""
        with self._changed:
            self._items.append(item)
            if len(self._items) >= self._wanted:
                self._changed.notify()

    def take(self, most: int, first_wait_s: float, fill_wait_s: float) -> list[T]:
        """Up to ``most`` items: wait ``first_wait_s`` for one (else return none), then up to
        ``fill_wait_s`` more for the batch to fill; what is there then is the batch."""
        with self._changed:
            if not self._items:
                self._wanted = 1
                self._changed.wait(first_wait_s)
                if not self._items:
                    return []
            deadline = time.monotonic() + fill_wait_s
            self._wanted = most
            while len(self._items) < most:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            self._wanted = 1
            return [self._items.popleft() for _ in range(min(most, len(self._items)))]

    def oldest_received_s(self) -> float | None:
        """When the oldest waiting item arrived (``time.monotonic``); None when empty."""
        with self._changed:
            return self._items[0].received_s if self._items else None
