"""Notifications: channels (e-mail, signed webhooks, WeCom/DingTalk/Feishu bots) and the
durable SQL outbox that delivers one message per fault transition, with retries."""

from roomwatch.collector.notify.base import (
    EMAIL_CHANNEL,
    Channel,
    DeliveryError,
    Notification,
    OutgoingMessage,
)
from roomwatch.collector.notify.outbox import Outbox, RateLimit, RetryPolicy, enqueue

__all__ = [
    "EMAIL_CHANNEL",
    "Channel",
    "DeliveryError",
    "Notification",
    "Outbox",
    "OutgoingMessage",
    "RateLimit",
    "RetryPolicy",
    "enqueue",
]
