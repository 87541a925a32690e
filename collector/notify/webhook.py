"""Webhooks: a generic JSON POST signed with HMAC-SHA256, and the JSON shapes of the group
bots of WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书).

Generic: body ``{"id", "subject", "body", "recipient", "data"}``, header
``X-Roomwatch-Signature: sha256=<hex HMAC of the raw body with the secret>`` (verify with
``verify_signature``) and ``X-Roomwatch-Delivery: <outbox id>`` for the receiver's dedupe.
DingTalk and Feishu sign the way their bots expect when a secret is set ("加签").
Bot URLs carry their token, so no URL is ever logged or put in an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from roomwatch.collector.notify.base import DeliveryError, OutgoingMessage, scrub

SIGNATURE_HEADER = "X-Roomwatch-Signature"
DELIVERY_HEADER = "X-Roomwatch-Delivery"

WebhookFormat = Literal["generic", "wecom", "dingtalk", "feishu"]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: SecretStr = Field(description="Secret: bot URLs carry their access token.")
    format: WebhookFormat = "generic"
    secret: SecretStr | None = Field(default=None, description="HMAC key (generic: required).")
    timeout_s: float = Field(default=10.0, gt=0)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Roomwatch-Signature`` value of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers: whether ``header`` is the signature of ``body`` (constant time)."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


class WebhookChannel:
    """POSTs each message as JSON; any non-2xx answer (or a bot's error code) is a failure."""

    def __init__(
        self,
        name: str,
        settings: WebhookSettings,
        epoch_s: Callable[[], float] = time.time,
    ) -> None:
        if settings.format == "generic" and settings.secret is None:
            raise ValueError(f"webhook {name}: a generic webhook needs a secret to sign with")
        self.name = name
        self.settings = settings
        self._epoch_s = epoch_s
        # Never through an environment proxy: receivers are named explicitly.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(self, message: OutgoingMessage) -> None:
        url, payload, headers = self._request(message)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        if self.settings.format == "generic" and self.settings.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.settings.secret.get_secret_value(), body)
        headers[DELIVERY_HEADER] = str(message.id)
        headers["Content-Type"] = "application/json; charset=utf-8"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.settings.timeout_s) as response:
                answer = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook {self.name}: HTTP {exc.code} {exc.reason}") from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(
                scrub(f"webhook {self.name}: {type(exc).__name__}: {reason}", self._secrets())
            ) from None
        self._check_bot_answer(answer)

    def _request(self, message: OutgoingMessage) -> tuple[str, dict[str, Any], dict[str, str]]:
        url = self.settings.url.get_secret_value()
        text = f"{message.subject}\n\n{message.body}"
        fmt = self.settings.format
        if fmt == "wecom":
            return url, {"msgtype": "text", "text": {"content": text}}, {}
        if fmt == "dingtalk":
            return self._dingtalk_url(url), {"msgtype": "text", "text": {"content": text}}, {}
        if fmt == "feishu":
            payload: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
            if self.settings.secret is not None:
                stamp = str(int(self._epoch_s()))
                payload.update(timestamp=stamp, sign=self._bot_sign(stamp, feishu=True))
            return url, payload, {}
        payload = {
            "id": message.id,
            "subject": message.subject,
            "body": message.body,
            "recipient": message.recipient,
            "data": message.data,
        }
        return url, payload, {}

    def _dingtalk_url(self, url: str) -> str:
        if self.settings.secret is None:
            return url
        stamp = str(int(self._epoch_s() * 1000))
        query = urllib.parse.urlencode({"timestamp": stamp, "sign": self._bot_sign(stamp)})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def _bot_sign(self, stamp: str, feishu: bool = False) -> str:
        assert self.settings.secret is not None
        secret = self.settings.secret.get_secret_value()
        to_sign = f"{stamp}\n{secret}".encode()
        # DingTalk: HMAC(key=secret, msg=stamp\nsecret); Feishu: HMAC(key=stamp\nsecret, msg="").
        digest = (
            hmac.new(to_sign, b"", hashlib.sha256).digest()
            if feishu
            else hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
        )
        return base64.b64encode(digest).decode()

    def _check_bot_answer(self, answer: bytes) -> None:
        if self.settings.format == "generic":
            return
        try:
            parsed = json.loads(answer or b"{}")
        except ValueError:
            return
        if not isinstance(parsed, dict):
            return
        code = parsed.get("errcode", parsed.get("code", parsed.get("StatusCode", 0)))
        if code not in (0, None):
            detail = parsed.get("errmsg") or parsed.get("msg") or parsed.get("StatusMessage")
            raise DeliveryError(f"webhook {self.name}: bot answered code {code}: {detail}")

    def _secrets(self) -> list[str]:
        found = [self.settings.url.get_secret_value()]
        if self.settings.secret is not None:
            found.append(self.settings.secret.get_secret_value())
        return found
