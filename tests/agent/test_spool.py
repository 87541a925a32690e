"""The spool: durable, bounded, oldest first, and the source of never-reused seq numbers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from roomwatch.agent.config import AgentConfig, SpoolConfig
from roomwatch.agent.errors import SpoolError
from roomwatch.agent.runner import open_spool
from roomwatch.agent.spool import SPOOL_FILE, Spool, SpoolCorruptError, open_in_memory

SMALL = SpoolConfig(max_bytes=64 * 1024, max_age_s=3600)


class FakeWallClock:
    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s


def payload_with_seq(size: int = 10) -> Callable[[int], bytes]:
    def build(seq: int) -> bytes:
        return json.dumps({"seq": seq, "pad": "x" * size}).encode()

    return build


def append(spool: Spool, size: int = 10) -> int:
    return spool.append("metrics", payload_with_seq(size)).seq


def test_the_stored_payload_carries_its_own_seq(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)

    message = spool.append("metrics", lambda seq: json.dumps({"seq": seq}).encode())

    [stored] = spool.pending(10)
    assert json.loads(stored.payload)["seq"] == message.seq == stored.seq
    assert stored.kind == "metrics"


def test_messages_survive_a_reopen_and_seq_keeps_growing(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)
    first = [append(spool) for _ in range(3)]
    spool.commit(first[-1])  # even the newest deleted: its number is never handed out again
    spool.close()

    reopened = Spool.open(tmp_path, SMALL)
    later = append(reopened)

    assert [m.seq for m in reopened.pending(10)] == [*first[:2], later]
    assert later > max(first)
    assert reopened.reserve() > later


def test_a_lost_spool_file_starts_above_the_old_numbers(tmp_path: Path) -> None:
    clock = FakeWallClock()
    spool = Spool.open(tmp_path, SMALL, clock_s=clock)
    old = [append(spool) for _ in range(5)]
    spool.close()
    (tmp_path / SPOOL_FILE).unlink()
    clock.now_s += 1.0  # a second later

    assert append(Spool.open(tmp_path, SMALL, clock_s=clock)) > max(old)


def test_pending_is_oldest_first_and_commit_forgets(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)
    seqs = [append(spool) for _ in range(5)]

    assert [m.seq for m in spool.pending(3)] == seqs[:3]
    assert [m.seq for m in spool.pending(10, after_seq=seqs[1], through_seq=seqs[3])] == seqs[2:4]
    assert spool.commit(seqs[0]) is True
    assert spool.commit(seqs[0]) is False
    assert [m.seq for m in spool.pending(10)] == seqs[1:]
    assert spool.stats().depth == 4


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)
    seqs = [append(spool, size=10_000) for _ in range(10)]  # ~100 KB into 64 KiB

    stats = spool.stats()
    kept = [m.seq for m in spool.pending(100)]
    assert kept == seqs[-len(kept) :] and len(kept) < 10
    assert stats.dropped == 10 - len(kept)
    assert stats.bytes <= SMALL.max_bytes
    spool.close()
    assert Spool.open(tmp_path, SMALL).stats().dropped == 10 - len(kept)  # persistent


def test_messages_older_than_max_age_are_dropped(tmp_path: Path) -> None:
    clock = FakeWallClock()
    spool = Spool.open(tmp_path, SMALL, clock_s=clock)
    old = append(spool)
    clock.now_s += SMALL.max_age_s + 1

    new = append(spool)

    assert [m.seq for m in spool.pending(10)] == [new]
    assert spool.stats().dropped == 1 and old < new


def test_a_failing_payload_builder_stores_nothing(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)

    def broken(seq: int) -> bytes:
        raise ValueError("cannot build")

    with pytest.raises(ValueError):
        spool.append("metrics", broken)
    assert spool.stats().depth == 0


def test_a_corrupt_file_is_a_clear_spool_error(tmp_path: Path) -> None:
    (tmp_path / SPOOL_FILE).write_bytes(b"this is not a database" * 100)

    with pytest.raises(SpoolCorruptError, match=f"{SPOOL_FILE}.*not a database"):
        Spool.open(tmp_path, SMALL)


def test_a_folder_that_cannot_be_made_is_a_clear_spool_error(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(SpoolError, match=r"spool folder .*state.*cannot create"):
        Spool.open(blocker / "agent", SMALL)


def test_a_full_disk_is_a_clear_spool_error(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, SMALL)
    append(spool)
    # SQLite answers SQLITE_FULL exactly as on a full disk once the file may not grow.
    pages = spool._conn.execute("PRAGMA page_count").fetchone()[0]
    spool._conn.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(SpoolError, match="cannot append a message: database or disk is full"):
        for _ in range(100):
            append(spool, size=5_000)
    assert spool.pending(1)  # what was stored is still there


def test_the_agent_moves_a_corrupt_spool_aside_and_starts_empty(tmp_path: Path) -> None:
    config = AgentConfig(agent_id="room-101", state_dir=tmp_path)
    (tmp_path / SPOOL_FILE).write_bytes(b"garbage" * 1000)

    spool = open_spool(config)

    assert spool.persistent and spool.stats().depth == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith(f"{SPOOL_FILE}.corrupt-")]
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"garbage")


def test_the_agent_spools_in_memory_when_the_disk_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder")
    config = AgentConfig(agent_id="room-101", state_dir=tmp_path / "state")

    spool = open_spool(config)

    assert not spool.persistent
    assert append(spool) > 0


def test_the_spool_file_is_in_wal_mode(tmp_path: Path) -> None:
    Spool.open(tmp_path, SMALL).close()
    conn = sqlite3.connect(tmp_path / SPOOL_FILE)

    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_memory_fallback_continues_the_numbers_of_the_spool_it_replaces(tmp_path: Path):
    """Both stores start numbering at the clock in milliseconds: a disk spool that took many
    messages within its first milliseconds would otherwise share numbers with the fallback,
    and the collector would discard the fallback's messages as duplicates."""
    now = [1_800_000_000.0]
    disk = Spool(tmp_path / SPOOL_FILE, SpoolConfig(), clock_s=lambda: now[0])
    used = {disk.append("metrics", lambda seq: b"x").seq for _ in range(50)}
    now[0] += 0.01  # the disk fills up 10 ms later
    memory = open_in_memory(SpoolConfig(), clock_s=lambda: now[0])
    memory.continue_after(disk.last_seq())
    fresh = [memory.append("metrics", lambda seq: b"y").seq for _ in range(5)]
    assert min(fresh) > max(used) and not used & set(fresh)


def test_the_state_folder_and_spool_files_are_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    spool = Spool.open(state, SMALL)
    append(spool)  # the WAL and its index exist once something was written

    files = [state / SPOOL_FILE, state / f"{SPOOL_FILE}-wal", state / f"{SPOOL_FILE}-shm"]
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
    assert state.stat().st_mode & 0o777 == 0o700
    spool.close()


def test_a_readable_spool_left_by_an_older_agent_is_made_owner_only(tmp_path: Path) -> None:
    Spool.open(tmp_path, SMALL).close()
    (tmp_path / SPOOL_FILE).chmod(0o644)

    Spool.open(tmp_path, SMALL).close()

    assert (tmp_path / SPOOL_FILE).stat().st_mode & 0o777 == 0o600
