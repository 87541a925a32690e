"""One member of a collector group: keeps its leases, takes free ones, fences its writes.

Every ``renew_every_s`` (a third of the lease) the member says it is alive, renews what it
holds, and takes free partitions up to its fair share (``ceil(partitions / members)``);
above its share it gives partitions back, so a member that joins gets work at once. A
partition whose holder died is free when its lease expires (``lease_s``), and taken at the
next renewal of a survivor: a take-over within ``lease_s + renew_every_s``. The leader
lease decides who runs the group's background jobs.

A member that cannot renew (database unreachable, process paused) for a whole lease stops
serving its partitions before anyone else may have taken them; and whatever it still tries
to write is refused by the fencing check (``fence``) in the writing transaction.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Callable

from sqlalchemy.orm import Session

from roomwatch.collector.db import lease_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.errors import LeaseLostError
from roomwatch.collector.group.partitions import LEADER_LEASE, lease_name

log = logging.getLogger(__name__)


def new_member_id() -> str:
    """Unique per process start: a restarted member never inherits its old leases."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class GroupMember:
    def __init__(
        self,
        db: Database,
        partitions: int,
        lease_s: float,
        on_gain: Callable[[int], None],
        on_lose: Callable[[int], None],
        member_id: str | None = None,
        on_cycle: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.partitions = partitions
        self.lease_s = lease_s
        self.renew_every_s = lease_s / 3
        self.member_id = member_id or new_member_id()
        self._on_gain = on_gain
        self._on_lose = on_lose
        self._on_cycle = on_cycle
        self._lock = threading.Lock()
        self._held: dict[int, int] = {}  # partition → fencing token
        self._leader_token: int | None = None
        self._renewed_s = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="group-member", daemon=True)
        self._failing = False

    # --- what others ask ------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self._leader_token is not None

    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def owns(self, partition: int | None) -> bool:
        with self._lock:
            return partition in self._held

    def fence(self, session: Session, partitions: set[int]) -> None:
        """Raise LeaseLostError unless every one of ``partitions`` is still this member's
        under the token it was taken with; the rows stay locked against a take-over until
        ``session`` commits."""
        with self._lock:
            wanted = {lease_name(p): self._held[p] for p in partitions if p in self._held}
        lost = set(partitions) - {p for p in partitions if lease_name(p) in wanted}
        kept = lease_store.still_held(session, wanted, self.member_id)
        lost |= {p for p in partitions if lease_name(p) not in kept}
        if lost:
            self._drop(lost)
            raise LeaseLostError(f"partitions {sorted(lost)} were taken over by another collector")

    # --- life -----------------------------------------------------------------------------
    def start(self) -> None:
        """Join the group and keep its duties in a thread of its own."""
        self.join()
        self._thread.start()

    def join(self) -> None:
        """Create the lease rows if needed and say this member is alive (no leases yet)."""
        names = [lease_name(p) for p in range(self.partitions)] + [LEADER_LEASE]
        with self.db.session(write=True) as session:
            lease_store.ensure_leases(session, names)
            lease_store.heartbeat(session, self.member_id, self.lease_s, 0)
        log.info("collector group member %s joined", self.member_id)

    def stop(self) -> None:
        """Give everything back at once, so the others take over without waiting."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        with self._lock:
            held = {lease_name(p): t for p, t in self._held.items()}
            if self._leader_token is not None:
                held[LEADER_LEASE] = self._leader_token
        self._drop(set(self.held()))
        self._leader_token = None
        try:
            with self.db.session(write=True) as session:
                lease_store.release(session, held, self.member_id)
                lease_store.leave(session, self.member_id)
        except Exception as exc:
            log.warning("could not give the leases back (they expire on their own): %s", exc)

    def _run(self) -> None:
        # Let the others see this member before it takes its share (less churn at start).
        while not self._stop.wait(self.renew_every_s):
            try:
                self.cycle()
                self._on_cycle()
                if self._failing:
                    log.info("collector group leases renewed again")
                self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.error("renewing collector group leases failed: %s", exc)
                self._failing = True
                if time.monotonic() - self._renewed_s > self.lease_s:
                    self._drop(self.held())  # others may hold them by now
                    self._leader_token = None

    def cycle(self) -> None:
        """Heartbeat, renew, rebalance and take: one round of the member's duties."""
        with self._lock:
            held = {lease_name(p): t for p, t in self._held.items()}
        if self._leader_token is not None:
            held[LEADER_LEASE] = self._leader_token
        with self.db.session(write=True) as session:
            members = lease_store.heartbeat(session, self.member_id, self.lease_s, len(held))
            kept = lease_store.renew(session, held, self.member_id, self.lease_s)
        self._renewed_s = time.monotonic()
        lost = {p for p in self.held() if lease_name(p) not in kept}
        if lost:
            log.warning("lost partitions %s to another collector", sorted(lost))
            self._drop(lost)
        if LEADER_LEASE not in kept and self._leader_token is not None:
            log.warning("no longer the group's leader")
            self._leader_token = None
        share = math.ceil(self.partitions / max(members, 1))
        self._give_back(len(self.held()) - share)
        self._take(share - len(self.held()))
        if self._leader_token is None:
            with self.db.session(write=True) as session:
                token = lease_store.acquire(session, LEADER_LEASE, self.member_id, self.lease_s)
            if token is not None:
                self._leader_token = token
                log.info("leading the collector group (background jobs run here)")

    def _give_back(self, count: int) -> None:
        if count <= 0:
            return
        extra = sorted(self.held())[-count:]
        with self._lock:
            tokens = {lease_name(p): self._held[p] for p in extra}
        self._drop(set(extra))  # stop serving first: then the lease may go
        with self.db.session(write=True) as session:
            lease_store.release(session, tokens, self.member_id)

    def _take(self, count: int) -> None:
        # Start at a place of our own so members starting together try different ones.
        first = zlib.crc32(self.member_id.encode()) % self.partitions
        for offset in range(self.partitions):
            if count <= 0:
                return
            partition = (first + offset) % self.partitions
            if partition in self.held():
                continue
            with self.db.session(write=True) as session:
                token = lease_store.acquire(
                    session, lease_name(partition), self.member_id, self.lease_s
                )
            if token is None:
                continue
            with self._lock:
                self._held[partition] = token
            self._on_gain(partition)
            count -= 1

    def _drop(self, partitions: set[int]) -> None:
        for partition in sorted(partitions):
            with self._lock:
                if self._held.pop(partition, None) is None:
                    continue
            self._on_lose(partition)
