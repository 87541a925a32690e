"""The hand-over from the MQTT thread to the ingest worker: a batch starts with the first
message, fills up to its size or its wait, and the oldest waiting message is known."""

from __future__ import annotations

import threading
import time

from roomwatch.collector.ingest.inbox import Inbox
from roomwatch.collector.ingest.pipeline import Received


def received(n: int) -> Received:
    return Received(topic=f"t/{n}", payload=b"{}", mid=n, received_s=float(n))


def test_nothing_waiting_is_an_empty_batch_after_the_first_wait():
    inbox: Inbox[Received] = Inbox()
    assert inbox.take(10, first_wait_s=0.01, fill_wait_s=1.0) == []
    assert inbox.oldest_received_s() is None


def test_a_batch_takes_at_most_its_size_in_arrival_order():
    inbox: Inbox[Received] = Inbox()
    for n in range(1, 6):
        inbox.put(received(n))
    assert [r.mid for r in inbox.take(3, first_wait_s=1.0, fill_wait_s=1.0)] == [1, 2, 3]
    assert len(inbox) == 2 and inbox.oldest_received_s() == 4.0
    assert [r.mid for r in inbox.take(3, first_wait_s=1.0, fill_wait_s=0.0)] == [4, 5]


def test_a_filling_batch_is_taken_as_soon_as_it_is_full():
    inbox: Inbox[Received] = Inbox()

    def feed() -> None:
        for n in range(1, 5):
            inbox.put(received(n))

    threading.Timer(0.05, feed).start()
    started = time.monotonic()
    batch = inbox.take(4, first_wait_s=10.0, fill_wait_s=10.0)
    assert [r.mid for r in batch] == [1, 2, 3, 4]
    assert time.monotonic() - started < 5.0  # full: not held for the 10 s fill wait


def test_a_batch_that_does_not_fill_goes_after_its_wait():
    inbox: Inbox[Received] = Inbox()
    inbox.put(received(1))
    started = time.monotonic()
    assert [r.mid for r in inbox.take(100, first_wait_s=1.0, fill_wait_s=0.05)] == [1]
    assert time.monotonic() - started >= 0.05
