"""The spool's replay window: acknowledged messages are kept for ``replay_window_s`` (counted
back from the newest acknowledgement) and made pending again on the next connect, so a
broker that crashed after acknowledging them cannot lose them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from roomwatch.agent.config import SpoolConfig
from roomwatch.agent.spool import SPOOL_FILE, Spool


class Clock:
    def __init__(self) -> None:
        self.now_s = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now_s


def append(spool: Spool, size: int = 10) -> int:
    return spool.append("metrics", lambda seq: b"x" * size).seq


def test_acknowledged_messages_are_kept_for_the_window_and_requeued_on_connect(tmp_path: Path):
    clock = Clock()
    spool = Spool.open(tmp_path, SpoolConfig(replay_window_s=60), clock_s=clock)
    seqs = [append(spool) for _ in range(3)]

    assert spool.commit(seqs[0]) and spool.commit(seqs[1])
    assert not spool.commit(seqs[0])  # an acknowledgement counts once
    assert [m.seq for m in spool.pending(10)] == [seqs[2]]
    assert (spool.stats().depth, spool.stats().replayable) == (1, 2)

    clock.now_s += 61  # seqs[0] and seqs[1] fall out of the window at the next commit
    spool.commit(seqs[2])
    assert spool.stats().replayable == 1
    assert spool.requeue_acknowledged() == 1
    assert [m.seq for m in spool.pending(10)] == [seqs[2]]


def test_the_window_is_counted_from_the_newest_acknowledgement_not_the_wall_clock(
    tmp_path: Path,
):
    clock = Clock()
    spool = Spool.open(tmp_path, SpoolConfig(replay_window_s=60), clock_s=clock)
    seq = append(spool)
    spool.commit(seq)
    clock.now_s += 3600  # a long broker outage: no acknowledgement, nothing forgotten

    assert spool.requeue_acknowledged() == 1
    assert [m.seq for m in spool.pending(10)] == [seq]


def test_a_zero_window_forgets_a_message_at_its_acknowledgement(tmp_path: Path):
    spool = Spool.open(tmp_path, SpoolConfig(replay_window_s=0))
    seq = append(spool)
    spool.commit(seq)
    assert spool.stats() == spool.stats().__class__(depth=0, bytes=0, dropped=0, replayable=0)
    assert spool.requeue_acknowledged() == 0


def test_a_full_spool_gives_up_acknowledged_messages_before_pending_ones(tmp_path: Path):
    config = SpoolConfig(max_bytes=64 * 1024, replay_window_s=600)
    spool = Spool.open(tmp_path, config)
    acked = [append(spool, 10_000) for _ in range(4)]
    for seq in acked:
        spool.commit(seq)
    pending = [append(spool, 10_000) for _ in range(4)]

    stats = spool.stats()
    assert [m.seq for m in spool.pending(10)] == pending
    assert stats.dropped == 0 and stats.replayable < 4 and stats.bytes <= config.max_bytes


def test_a_spool_written_before_the_replay_window_existed_opens_and_keeps_its_messages(
    tmp_path: Path,
):
    with sqlite3.connect(tmp_path / SPOOL_FILE) as db:
        db.executescript(
            "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " created_s REAL NOT NULL, payload BLOB NOT NULL);"
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "INSERT INTO messages (kind, created_s, payload) VALUES ('metrics', 1e9, x'7b7d');"
        )
    spool = Spool.open(tmp_path, SpoolConfig(max_age_s=1e12))
    [old] = spool.pending(10)
    assert old.payload == b"{}"
    assert spool.commit(old.seq) and spool.requeue_acknowledged() == 1
