"""The channels against real local servers: e-mail through aiosmtpd (plain and STARTTLS
with login), the signed generic webhook and the WeCom / DingTalk / Feishu bot shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from pydantic import SecretStr

from roomwatch.collector.notify.base import DeliveryError, OutgoingMessage
from roomwatch.collector.notify.email import EmailChannel, EmailSettings
from roomwatch.collector.notify.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookChannel,
    WebhookSettings,
    verify_signature,
)
from tests.collector.notify_servers import (
    PasswordCheck,
    free_port,
    self_signed,
    server_tls_context,
    smtp_server,
    webhook_server,
)

MESSAGE = OutgoingMessage(
    id=7,
    channel="email",
    recipient="duty@example.edu.cn",
    subject="[roomwatch] 新故障 opened: L1 一级故障 #3 camera down",
    body="教室 room: r1\n响应时限 respond deadline: 2025-03-03 10:30",
    data={"fault_id": 3, "level": 1},
    attempt=1,
)


def test_email_is_delivered_to_a_real_smtp_server_in_utf8():
    with smtp_server() as (port, box):
        channel = EmailChannel(
            EmailSettings(host="127.0.0.1", port=port, security="none", sender="rw@example.cn")
        )
        channel.send(MESSAGE)
    [envelope] = box.envelopes
    assert envelope.rcpt_tos == ["duty@example.edu.cn"]
    mail = message_from_bytes(envelope.original_content, policy=policy.default)
    assert mail["Subject"] == MESSAGE.subject
    assert mail.get_content().replace("\r\n", "\n").strip() == MESSAGE.body


def test_email_over_starttls_with_login(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    options = {
        "tls_context": server_tls_context(cert, key),
        "require_starttls": True,
        "authenticator": PasswordCheck("roomwatch", "s3cret-Pa55word"),
        "auth_required": True,
    }
    with smtp_server(**options) as (port, box):
        settings = EmailSettings(
            host="127.0.0.1",
            port=port,
            security="starttls",
            username="roomwatch",
            password=SecretStr("s3cret-Pa55word"),
            sender="rw@example.cn",
            ca_file=cert,
        )
        EmailChannel(settings).send(MESSAGE)
        assert len(box.envelopes) == 1
        wrong = settings.model_copy(update={"password": SecretStr("not-the-Pa55word")})
        with pytest.raises(DeliveryError) as failure:
            EmailChannel(wrong).send(MESSAGE)
    assert "SMTPAuthenticationError" in str(failure.value)
    assert "not-the-Pa55word" not in str(failure.value)
    assert "Pa55word" not in repr(wrong)  # SecretStr


def test_email_to_a_closed_port_is_a_delivery_error():
    channel = EmailChannel(
        EmailSettings(host="127.0.0.1", port=free_port(), security="none", sender="rw@x.cn")
    )
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        channel.send(MESSAGE)


def test_generic_webhook_posts_json_signed_with_hmac_sha256():
    secret = "hook-secret-123"
    with webhook_server() as (url, hook):
        channel = WebhookChannel(
            "ops", WebhookSettings(url=SecretStr(f"{url}/roomwatch"), secret=SecretStr(secret))
        )
        channel.send(MESSAGE)
    [(path, headers, body)] = hook.requests
    assert path == "/roomwatch"
    assert verify_signature(secret, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("another-secret", body, headers[SIGNATURE_HEADER])
    assert not verify_signature(secret, body + b" ", headers[SIGNATURE_HEADER])
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert headers[DELIVERY_HEADER] == "7"
    assert json.loads(body) == {
        "id": 7,
        "subject": MESSAGE.subject,
        "body": MESSAGE.body,
        "recipient": "duty@example.edu.cn",
        "data": {"fault_id": 3, "level": 1},
    }


def test_a_webhook_error_status_is_a_delivery_error():
    with webhook_server() as (url, hook):
        hook.answers.append((503, b"busy"))
        channel = WebhookChannel("ops", WebhookSettings(url=SecretStr(url), secret=SecretStr("k")))
        with pytest.raises(DeliveryError, match="HTTP 503"):
            channel.send(MESSAGE)


def test_a_generic_webhook_without_a_secret_is_refused():
    with pytest.raises(ValueError, match="needs a secret"):
        WebhookChannel("ops", WebhookSettings(url=SecretStr("http://127.0.0.1:9/")))


def test_wecom_bot_shape_and_its_error_code():
    with webhook_server() as (url, hook):
        channel = WebhookChannel(
            "wecom", WebhookSettings(url=SecretStr(f"{url}/send?key=K"), format="wecom")
        )
        hook.answers.append((200, b'{"errcode":0,"errmsg":"ok"}'))
        channel.send(MESSAGE)
        hook.answers.append((200, b'{"errcode":93000,"errmsg":"invalid webhook url"}'))
        with pytest.raises(DeliveryError, match="93000"):
            channel.send(MESSAGE)
    body = hook.bodies()[0]
    assert body["msgtype"] == "text"
    assert body["text"]["content"].startswith(MESSAGE.subject)


def test_dingtalk_bot_is_signed_in_the_url():
    with webhook_server() as (url, hook):
        channel = WebhookChannel(
            "dingtalk",
            WebhookSettings(
                url=SecretStr(f"{url}/robot/send?access_token=T"),
                format="dingtalk",
                secret=SecretStr("SECabc"),
            ),
            epoch_s=lambda: 1700000000.0,
        )
        channel.send(MESSAGE)
    path = hook.requests[0][0]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert query["access_token"] == ["T"]
    assert query["timestamp"] == ["1700000000000"]
    expected = base64.b64encode(
        hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected]
    assert hook.bodies()[0]["msgtype"] == "text"


def test_feishu_bot_shape_with_signature():
    with webhook_server() as (url, hook):
        channel = WebhookChannel(
            "feishu",
            WebhookSettings(url=SecretStr(url), format="feishu", secret=SecretStr("fs")),
            epoch_s=lambda: 1700000000.0,
        )
        channel.send(MESSAGE)
    body = hook.bodies()[0]
    assert body["msg_type"] == "text"
    assert body["timestamp"] == "1700000000"
    expected = base64.b64encode(hmac.new(b"1700000000\nfs", b"", hashlib.sha256).digest())
    assert body["sign"] == expected.decode()
