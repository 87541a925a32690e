"""The durable outbox: messages are rows written in the caller's transaction, and a sender
delivers them with retries, exponential backoff and a per-channel rate limit.

Because the row is part of the transaction that changed the fault, a message exists exactly
when the transition does; because the unique ``dedupe_key`` names the transition, it exists
once. A channel that is down only delays delivery: nothing is dropped before
``RetryPolicy.max_attempts``, after which the message is marked failed with its last error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import SlaContact
from roomwatch.collector.notify.base import (
    EMAIL_CHANNEL,
    Channel,
    DeliveryError,
    Notification,
    OutgoingMessage,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def enqueue(session: Session, notification: Notification) -> int:
    """Add a message to the outbox inside the caller's transaction; returns its id (the
    existing message's id when the same ``dedupe_key`` was enqueued before)."""
    return sla_store.outbox_add(session, notification)


@dataclass(frozen=True)
class Message:
    """What to tell contacts: one message, once per (``dedupe_prefix``, channel, contact)."""

    subject: str
    body: str
    at: datetime
    dedupe_prefix: str
    data: Mapping[str, object] = field(default_factory=dict)
    fault_id: int | None = None


def tell_contacts(
    session: Session, contacts: Iterable[SlaContact], message: Message, send: bool = True
) -> tuple[str, ...]:
    """Queue ``message`` for every channel of each contact (e-mail, then its named channels),
    each contact once; the names of the contacts reached. ``send=False`` names them without
    queueing anything (notifications switched off)."""
    reached: dict[int, str] = {}
    for contact in contacts:
        if contact.id in reached:
            continue
        reached[contact.id] = contact.name
        targets = [
            *([(EMAIL_CHANNEL, contact.email)] if contact.email else []),
            *((channel, contact.name) for channel in contact.channels),
        ]
        for channel, recipient in targets if send else ():
            enqueue(
                session,
                Notification(
                    channel=channel,
                    recipient=recipient,
                    subject=message.subject,
                    body=message.body,
                    at=message.at,
                    dedupe_key=f"{message.dedupe_prefix}|{channel}|{contact.id}",
                    fault_id=message.fault_id,
                    data=dict(message.data),
                ),
            )
    return tuple(reached.values())


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) failing waits ``base_s * factor**(n-1)``, at most ``max_s``."""

    max_attempts: int = 10
    base_s: float = 30.0
    factor: float = 2.0
    max_s: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_s, self.base_s * self.factor ** (attempts - 1)))


@dataclass
class RateLimit:
    """A token bucket: ``per_minute`` messages a minute, bursts of up to ``burst``."""

    per_minute: float = 20.0
    burst: int = 10
    _tokens: float = field(default=-1.0, repr=False)
    _at: datetime | None = field(default=None, repr=False)

    def take(self, now: datetime) -> bool:
        if self._at is None or self._tokens < 0:
            self._tokens, self._at = float(self.burst), now
        elapsed_s = max(0.0, (now - self._at).total_seconds())
        self._tokens = min(float(self.burst), self._tokens + elapsed_s * self.per_minute / 60.0)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Outbox:
    """Delivers due messages through ``channels`` (by name). Call ``deliver_due`` from the
    collector's periodic tick; several collectors may run it against one PostgreSQL."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        clock: Clock,
        *,
        retry: RetryPolicy | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        default_rate: RateLimit | None = None,
        batch: int = 100,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self._limits = dict(rate_limits or {})
        self._default_rate = default_rate or RateLimit()
        self.batch = batch
        self.lease = lease
        self._failing: set[str] = set()

    def deliver_due(self, now: datetime | None = None) -> int:
        """Try every due message once; returns how many were delivered."""
        now = self.clock() if now is None else now
        with self.db.session(write=True) as session:
            claimed = [
                _outgoing(row)
                for row in sla_store.outbox_claim_due(session, now, self.batch, self.lease)
            ]
        delivered = 0
        for message in claimed:
            if not self._limit(message.channel).take(now):
                with self.db.session(write=True) as session:
                    sla_store.outbox_release(session, message.id, now)
                continue
            error = self._send(message)
            with self.db.session(write=True) as session:
                if error is None:
                    sla_store.outbox_sent(session, message.id, now)
                    delivered += 1
                    self._recovered(message.channel)
                else:
                    self._record_failure(session, message, error, now)
        return delivered

    def _send(self, message: OutgoingMessage) -> str | None:
        channel = self.channels.get(message.channel)
        if channel is None:
            return f"no channel named {message.channel!r} is configured"
        try:
            channel.send(message)
        except DeliveryError as exc:
            return str(exc)
        return None

    def _record_failure(
        self, session: Session, message: OutgoingMessage, error: str, now: datetime
    ) -> None:
        attempts = message.attempt
        give_up = attempts >= self.retry.max_attempts
        retry_at = None if give_up else now + self.retry.delay(attempts)
        sla_store.outbox_failed(session, message.id, error, retry_at)
        if give_up:
            log.error(
                "notification %d on %s failed after %d attempts: %s",
                message.id,
                message.channel,
                attempts,
                error,
            )
        elif message.channel not in self._failing:
            self._failing.add(message.channel)
            log.warning("channel %s failing, will retry: %s", message.channel, error)

    def _recovered(self, channel: str) -> None:
        if channel in self._failing:
            self._failing.discard(channel)
            log.info("channel %s delivers again", channel)

    def _limit(self, channel: str) -> RateLimit:
        limit = self._limits.get(channel)
        if limit is None:
            template = self._default_rate
            limit = self._limits[channel] = RateLimit(template.per_minute, template.burst)
        return limit


def _outgoing(row: sla_store.OutboxMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        data=dict(row.data or {}),
        attempt=row.attempts + 1,
    )
