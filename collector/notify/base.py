"""The notification contract: what a caller enqueues and what a channel sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from roomwatch.collector.errors import CollectorError

EMAIL_CHANNEL = "email"


class DeliveryError(CollectorError):
    """A channel could not deliver a message (it is retried). Messages never hold secrets."""


@dataclass(frozen=True)
class Notification:
    """One message to enqueue. ``channel`` names a configured channel (``email`` or a
    webhook's name); ``recipient`` is an address for e-mail, a display name otherwise.
    The same ``dedupe_key`` enqueued twice is one message (one per fault transition)."""

    channel: str
    recipient: str
    subject: str
    body: str
    at: datetime
    dedupe_key: str | None = None
    fault_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message taken from the outbox for one delivery attempt."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    data: dict[str, Any]
    attempt: int


class Channel(Protocol):
    """Something that delivers a message or raises ``DeliveryError``."""

    name: str

    def send(self, message: OutgoingMessage) -> None: ...


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (and nothing shorter than 4 characters) replaced by ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
