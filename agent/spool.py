"""The spool: every message is stored on disk before it is published, and deleted only when
the broker acknowledged it (PUBACK), so a broker outage or an agent restart loses nothing.

It is one SQLite file in ``state_dir``. The AUTOINCREMENT row id of a message *is* its wire
sequence number: ``append`` reserves the row, hands the number to the caller's payload
builder and stores the result, all in one transaction, so the stored payload carries its own
seq. AUTOINCREMENT never hands out a number twice, even after the newest rows are deleted,
so ``seq`` grows across restarts. A store created from scratch (first start, a lost or
corrupt file, the in-memory fallback) starts its numbers at the current Unix time in
milliseconds, so they stay above anything an earlier store sent (unless the clock went back).

A PUBACK only says the *broker* has the message. A broker that crashes (SIGKILL, power cut)
loses what arrived since its last persistence save, so with ``replay_window_s`` > 0 an
acknowledged message is only marked as such and kept for that long (counted back from the
newest acknowledgement); ``requeue_acknowledged`` makes the kept ones pending again, which
the publisher does on every connect. The collector is idempotent on (agent, seq), so the
re-sent copies cost a duplicate each and close the broker's crash window.

The spool is bounded by bytes and age; when full, acknowledged messages go first, then the
oldest pending ones, and a persistent counter records how many pending ones were dropped.
Every SQLite failure becomes a SpoolError (SpoolCorruptError for a damaged file) that says
which file and what went wrong.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roomwatch.agent.config import SpoolConfig
from roomwatch.agent.errors import SpoolError
from roomwatch.agent.selfhealth import FailureLog

PRIVATE_FILE_MODE = 0o600  # queued messages: what the room's devices report

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.db"
_RESERVED_KIND = "reserved"
_SQLITE_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_DROPPED_SQL = "SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'dropped'"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    created_s REAL NOT NULL,
    payload BLOB NOT NULL,
    acked_s REAL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_ACKED_INDEX = (
    "CREATE INDEX IF NOT EXISTS messages_acked ON messages (acked_s) WHERE acked_s IS NOT NULL"
)


class SpoolCorruptError(SpoolError):
    """The spool file is damaged or not a SQLite database."""


@dataclass(frozen=True)
class SpooledMessage:
    seq: int
    kind: str
    payload: bytes
    created_s: float


@dataclass(frozen=True)
class SpoolStats:
    depth: int
    """Messages waiting for the broker's PUBACK."""
    bytes: int
    """Payload bytes stored, acknowledged ones kept for replay included."""
    dropped: int
    """Pending messages dropped because the spool was full or they were too old (ever)."""
    replayable: int = 0
    """Acknowledged messages kept for replay after the next reconnect."""


class Spool:
    """A bounded, durable FIFO of encoded messages keyed by their sequence number.

    Thread-safe: the runner appends while the publisher's threads read and commit.
    """

    def __init__(
        self,
        location: Path | str,
        config: SpoolConfig,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) the spool at ``location`` (a file path, or ":memory:")."""
        self.location = str(location)
        self._max_bytes = config.max_bytes
        self._max_age_s = config.max_age_s
        self._replay_window_s = config.replay_window_s
        self._clock_s = clock_s
        self._lock = threading.Lock()
        self._full_log = FailureLog(log)
        self._conn = self._connect()
        with self._guard("read"):
            self._bytes = self._stored_bytes()

    @classmethod
    def open(
        cls, state_dir: Path, config: SpoolConfig, clock_s: Callable[[], float] = time.time
    ) -> Spool:
        """The spool file in ``state_dir`` (created with the folder when missing)."""
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SpoolError(f"spool folder {state_dir}: cannot create: {exc.strerror}") from None
        return cls(state_dir / SPOOL_FILE, config, clock_s)

    @property
    def persistent(self) -> bool:
        return self.location != ":memory:"

    def reconfigure(self, config: SpoolConfig) -> None:
        """Apply new limits (a config reload); they take effect from the next append."""
        with self._lock:
            self._max_bytes = config.max_bytes
            self._max_age_s = config.max_age_s
            self._replay_window_s = config.replay_window_s

    def continue_after(self, seq: int) -> None:
        """Hand out numbers above ``seq`` from now on: the in-memory fallback continues the
        numbering of the spool it replaces. Started from the clock alone, it could hand out
        numbers that spool had already used (many messages within a few milliseconds of its
        creation), and the collector would discard those messages as duplicates."""
        with self._transaction("continue the numbering"):
            self._conn.execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'messages'", (seq,)
            )

    def reserve(self) -> int:
        """A fresh sequence number for a message that is not spooled (status, inventory)."""
        with self._transaction("reserve a sequence number"):
            seq = self._insert(_RESERVED_KIND, b"")
            self._conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
        return seq

    def append(self, kind: str, build_payload: Callable[[int], bytes]) -> SpooledMessage:
        """Store a message whose payload ``build_payload(seq)`` makes; make room if full.

        The message is durable when this returns. An exception from ``build_payload``
        rolls the row back and propagates unchanged.
        """
        created_s = self._clock_s()
        with self._transaction("append a message"):
            seq = self._insert(kind, b"", created_s)
            payload = build_payload(seq)
            self._conn.execute("UPDATE messages SET payload = ? WHERE seq = ?", (payload, seq))
            self._bytes += len(payload)
            self._make_room(keep_seq=seq)
        return SpooledMessage(seq, kind, payload, created_s)

    def pending(
        self, limit: int, after_seq: int = 0, through_seq: int | None = None
    ) -> list[SpooledMessage]:
        """Up to ``limit`` stored messages with after_seq < seq <= through_seq, oldest first."""
        upper = through_seq if through_seq is not None else 2**63 - 1
        with self._lock, self._guard("read messages"):
            rows = self._conn.execute(
                "SELECT seq, kind, payload, created_s FROM messages"
                " WHERE seq > ? AND seq <= ? AND acked_s IS NULL ORDER BY seq LIMIT ?",
                (after_seq, upper, limit),
            ).fetchall()
        return [
            SpooledMessage(seq, kind, bytes(payload), created)
            for seq, kind, payload, created in rows
        ]

    def commit(self, seq: int) -> bool:
        """The broker acknowledged ``seq``: forget it, or keep it for replay (see the module
        docstring); False if it was no longer pending."""
        now_s = self._clock_s()
        with self._transaction("commit an acknowledged message"):
            if self._replay_window_s > 0:
                row = self._conn.execute(
                    "UPDATE messages SET acked_s = ? WHERE seq = ? AND acked_s IS NULL"
                    " RETURNING seq",
                    (now_s, seq),
                ).fetchone()
                self._bytes -= self._delete_returning_size(
                    "DELETE FROM messages WHERE acked_s < ? RETURNING length(payload)",
                    (now_s - self._replay_window_s,),
                )
            else:
                row = self._conn.execute(
                    "DELETE FROM messages WHERE seq = ? AND acked_s IS NULL"
                    " RETURNING length(payload)",
                    (seq,),
                ).fetchone()
                if row is not None:
                    self._bytes -= int(row[0])
        return row is not None

    def requeue_acknowledged(self) -> int:
        """Make the acknowledged messages kept for replay pending again; how many."""
        with self._transaction("requeue acknowledged messages"):
            cursor = self._conn.execute(
                "UPDATE messages SET acked_s = NULL WHERE acked_s IS NOT NULL"
            )
        return int(cursor.rowcount or 0)

    def last_seq(self) -> int:
        """The highest sequence number handed out so far (0 for none)."""
        with self._lock, self._guard("read"):
            return int(self._last_seq())

    def stats(self) -> SpoolStats:
        with self._lock, self._guard("read"):
            depth = int(self._scalar("SELECT COUNT(*) FROM messages WHERE acked_s IS NULL"))
            replayable = int(
                self._scalar("SELECT COUNT(*) FROM messages WHERE acked_s IS NOT NULL")
            )
            dropped = int(self._scalar(_DROPPED_SQL))
        return SpoolStats(depth=depth, bytes=self._bytes, dropped=dropped, replayable=replayable)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- internals ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        with self._guard("open"):
            if self.persistent:
                _make_private(Path(self.location))
            conn = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None)
        self._conn = conn
        try:
            self._prepare()
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self) -> None:
        conn = self._conn
        with self._guard("open"):
            if self._scalar("PRAGMA quick_check") != "ok":
                raise SpoolCorruptError(f"spool {self.location}: damaged (integrity check failed)")
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: an append must survive a power cut before its message is published, or
            # the rolled-back sequence number would be handed out again for another message,
            # which the collector would then discard as a duplicate. One fsync per message
            # is nothing at one message per poll cycle.
            conn.execute("PRAGMA synchronous = FULL")
            fresh = self._scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages'") == 0
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
            if "acked_s" not in columns:  # a spool written by an agent before replay existed
                conn.execute("ALTER TABLE messages ADD COLUMN acked_s REAL")
            conn.execute(_ACKED_INDEX)
            if fresh:
                self._seed_sequence(int(self._clock_s() * 1000))

    def _seed_sequence(self, first_seq: int) -> None:
        self._conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', ?)", (first_seq - 1,)
        )

    def _insert(self, kind: str, payload: bytes, created_s: float | None = None) -> int:
        created = created_s if created_s is not None else self._clock_s()
        cursor = self._conn.execute(
            "INSERT INTO messages (kind, created_s, payload) VALUES (?, ?, ?)",
            (kind, created, payload),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _make_room(self, keep_seq: int) -> None:
        """While over the byte budget or older than max age, drop acknowledged messages kept
        for replay first (nothing is lost), then the oldest pending ones (counted)."""
        self._drop_oldest(keep_seq, "acked_s IS NOT NULL")
        dropped = self._drop_oldest(keep_seq, "acked_s IS NULL")
        if dropped:
            self._conn.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?)"
                " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (dropped,),
            )
            self._full_log.failed(f"spool {self.location}", "full or too old, dropping the oldest")
        else:
            self._full_log.ok(f"spool {self.location}")

    def _drop_oldest(self, keep_seq: int, which: str) -> int:
        oldest_allowed_s = self._clock_s() - self._max_age_s
        dropped = 0
        for seq, created_s, size in self._conn.execute(
            "SELECT seq, created_s, length(payload) FROM messages"
            f" WHERE seq < ? AND {which} ORDER BY seq",
            (keep_seq,),
        ).fetchall():
            if self._bytes <= self._max_bytes and created_s >= oldest_allowed_s:
                break
            self._conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            self._bytes -= int(size)
            dropped += 1
        return dropped

    def _delete_returning_size(self, sql: str, params: tuple[Any, ...]) -> int:
        return sum(int(size) for (size,) in self._conn.execute(sql, params).fetchall())

    def _last_seq(self) -> int:
        value = self._scalar("SELECT seq FROM sqlite_sequence WHERE name = 'messages'")
        return int(value or 0)

    def _scalar(self, sql: str) -> Any:
        row = self._conn.execute(sql).fetchone()
        return row[0] if row else None

    @contextmanager
    def _transaction(self, action: str) -> Iterator[None]:
        with self._lock, self._guard(action):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._roll_back()
                raise

    def _roll_back(self) -> None:
        with suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._bytes = self._stored_bytes()

    def _stored_bytes(self) -> int:
        return int(self._scalar("SELECT COALESCE(SUM(length(payload)), 0) FROM messages"))

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn SQLite failures into SpoolError naming the file and what failed."""
        try:
            yield
        except sqlite3.Error as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            kind = SpoolCorruptError if code in _SQLITE_CORRUPT_CODES else SpoolError
            raise kind(f"spool {self.location}: cannot {action}: {exc}") from None


def open_in_memory(config: SpoolConfig, clock_s: Callable[[], float] = time.time) -> Spool:
    """A spool that lives only as long as the process: the fallback when the disk fails."""
    return Spool(":memory:", config, clock_s)


def _make_private(path: Path) -> None:
    """Create the spool file owner-only before SQLite opens it (SQLite gives its -wal and
    -shm files the same mode), and make a spool an older agent left readable private too."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with suppress(FileNotFoundError):
                if name.stat().st_mode & 0o077:
                    name.chmod(PRIVATE_FILE_MODE)
    except OSError as exc:
        raise SpoolError(f"spool {path}: cannot open: {exc.strerror}") from None
