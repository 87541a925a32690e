"""Configuration of the notification channels (a ``notify:`` section of the collector
config) and building the channels from it. Secrets are ``SecretStr``: never printed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from roomwatch.collector.notify.base import EMAIL_CHANNEL, Channel
from roomwatch.collector.notify.email import EmailChannel, EmailSettings
from roomwatch.collector.notify.outbox import RateLimit, RetryPolicy
from roomwatch.collector.notify.webhook import WebhookChannel, WebhookSettings


class RateLimitSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_minute: float = Field(default=20.0, gt=0)
    burst: int = Field(default=10, ge=1)


class RetrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=10, ge=1)
    base_s: float = Field(default=30.0, gt=0)
    factor: float = Field(default=2.0, ge=1)
    max_s: float = Field(default=3600.0, gt=0)


class NotifyConfig(BaseModel):
    """``email`` is the channel named ``email``; each webhook is a channel by its name
    (contacts list channel names)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailSettings | None = None
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    rate_limits: dict[str, RateLimitSettings] = Field(
        default_factory=dict, description="Per channel name, over rate_limit."
    )
    deliver_every_s: float = Field(default=5.0, gt=0)
    public_url: HttpUrl | None = Field(
        default=None,
        description="The dashboard's address as people reach it (https://roomwatch.example."
        "edu.cn); notifications link to the fault page under it. Unset: no link.",
    )

    def public_base(self) -> str | None:
        """``public_url`` without a trailing slash, or None."""
        return None if self.public_url is None else str(self.public_url).rstrip("/")

    def channels(self) -> dict[str, Channel]:
        built: dict[str, Channel] = {}
        if self.email is not None:
            built[EMAIL_CHANNEL] = EmailChannel(self.email)
        for name, settings in self.webhooks.items():
            built[name] = WebhookChannel(name, settings)
        return built

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(**self.retry.model_dump())

    def limits(self) -> dict[str, RateLimit]:
        return {name: RateLimit(s.per_minute, s.burst) for name, s in self.rate_limits.items()}

    def default_limit(self) -> RateLimit:
        return RateLimit(self.rate_limit.per_minute, self.rate_limit.burst)
