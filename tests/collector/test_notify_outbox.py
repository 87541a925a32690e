"""The durable outbox on SQLite and PostgreSQL: a message waits while the SMTP server is
down and is delivered once when it is up; backoff, giving up, rate limits, one message per
dedupe key, and no secret in any log line or stored error."""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import SecretStr

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.notify import Notification, Outbox, RateLimit, RetryPolicy, enqueue
from roomwatch.collector.notify.email import EmailChannel, EmailSettings
from roomwatch.collector.notify.webhook import WebhookChannel, WebhookSettings
from tests.collector.notify_servers import free_port, smtp_server, webhook_server
from tests.collector.sla_support import FakeClock, cst

T = cst(2025, 3, 3, 10)


def _mail(n: int = 1, key: str | None = None) -> Notification:
    return Notification(
        channel="email",
        recipient=f"person{n}@example.edu.cn",
        subject=f"[roomwatch] fault {n}",
        body="一级故障 camera down",
        at=T,
        dedupe_key=key or f"fault|{n}|opened",
        fault_id=n,
    )


def _rows(db: Database):
    with db.session() as session:
        return list(sla_store.outbox_messages(session))


def test_a_message_waits_while_smtp_is_down_and_is_delivered_once_it_is_up(database):
    port = free_port()  # nothing listens here yet
    channel = EmailChannel(
        EmailSettings(host="127.0.0.1", port=port, security="none", sender="rw@example.cn")
    )
    clock = FakeClock(T)
    outbox = Outbox(database, {"email": channel}, clock, retry=RetryPolicy(base_s=30))
    with database.session() as session:
        enqueue(session, _mail())

    assert outbox.deliver_due(T) == 0
    [row] = _rows(database)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending",
        1,
        T + timedelta(seconds=30),
    )
    assert "ConnectionRefusedError" in (row.last_error or "")
    assert outbox.deliver_due(T + timedelta(seconds=10)) == 0  # backing off
    assert _rows(database)[0].attempts == 1

    with smtp_server(port) as (_, box):
        assert outbox.deliver_due(T + timedelta(seconds=31)) == 1
        assert outbox.deliver_due(T + timedelta(minutes=10)) == 0
    assert len(box.envelopes) == 1
    [row] = _rows(database)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert row.sent_at == T + timedelta(seconds=31)


def test_backoff_doubles_and_the_outbox_gives_up_after_max_attempts(database):
    channel = EmailChannel(
        EmailSettings(host="127.0.0.1", port=free_port(), security="none", sender="rw@x.cn")
    )
    retry = RetryPolicy(max_attempts=3, base_s=10, factor=2, max_s=15)
    outbox = Outbox(database, {"email": channel}, FakeClock(T), retry=retry)
    with database.session() as session:
        enqueue(session, _mail())
    outbox.deliver_due(T)
    assert _rows(database)[0].next_attempt_at == T + timedelta(seconds=10)
    outbox.deliver_due(T + timedelta(seconds=10))
    assert _rows(database)[0].next_attempt_at == T + timedelta(seconds=25)  # 20 s capped at 15
    outbox.deliver_due(T + timedelta(seconds=25))
    [row] = _rows(database)
    assert (row.status, row.attempts) == ("failed", 3)
    assert outbox.deliver_due(T + timedelta(days=1)) == 0


def test_the_same_transition_enqueued_twice_is_one_message(database):
    with database.session() as session:
        first = enqueue(session, _mail(1, key="fault|1|resolved|2025-03-03T02:00:00+00:00"))
        second = enqueue(session, _mail(1, key="fault|1|resolved|2025-03-03T02:00:00+00:00"))
        long_key = "x" * 500
        third = enqueue(session, _mail(2, key=long_key))
        fourth = enqueue(session, _mail(2, key=long_key))
    assert first == second
    assert third == fourth != first
    assert len(_rows(database)) == 2


def test_a_message_enqueued_in_a_rolled_back_transaction_does_not_exist(database):
    try:
        with database.session() as session:
            enqueue(session, _mail())
            raise RuntimeError("the fault change failed")
    except RuntimeError:
        pass
    assert _rows(database) == []


def test_a_channel_is_rate_limited_and_nothing_is_lost(database):
    with webhook_server() as (url, hook):
        channel = WebhookChannel("ops", WebhookSettings(url=SecretStr(url), secret=SecretStr("k")))
        outbox = Outbox(
            database,
            {"ops": channel},
            FakeClock(T),
            rate_limits={"ops": RateLimit(per_minute=2, burst=2)},
        )
        with database.session() as session:
            for n in range(5):
                enqueue(
                    session,
                    Notification("ops", "", f"message {n}", "body", T, dedupe_key=f"k{n}"),
                )
        sent = [outbox.deliver_due(T + timedelta(seconds=30 * step)) for step in range(5)]
    assert sent == [2, 1, 1, 1, 0]
    assert sorted(b["subject"] for b in hook.bodies()) == [f"message {n}" for n in range(5)]
    assert {row.status for row in _rows(database)} == {"sent"}


def test_an_unknown_channel_is_retried_not_dropped(database):
    outbox = Outbox(database, {}, FakeClock(T))
    with database.session() as session:
        enqueue(session, _mail())
    assert outbox.deliver_due(T) == 0
    [row] = _rows(database)
    assert row.status == "pending"
    assert "no channel named 'email'" in (row.last_error or "")


def test_secrets_are_never_logged_nor_stored(database, caplog):
    caplog.set_level(logging.DEBUG)
    closed = free_port()
    email = EmailChannel(
        EmailSettings(
            host="127.0.0.1",
            port=closed,
            security="none",
            username="roomwatch",
            password=SecretStr("Sup3r-Secret-Passw0rd"),
            sender="rw@example.cn",
        )
    )
    hook = WebhookChannel(
        "wecom",
        WebhookSettings(
            url=SecretStr(f"http://127.0.0.1:{closed}/cgi-bin/webhook/send?key=BOT-TOKEN-4242"),
            format="wecom",
        ),
    )
    signed = WebhookChannel(
        "ops",
        WebhookSettings(
            url=SecretStr(f"http://127.0.0.1:{closed}/hook"), secret=SecretStr("HMAC-KEY-777")
        ),
    )
    retry = RetryPolicy(max_attempts=2, base_s=1)
    outbox = Outbox(database, {"email": email, "wecom": hook, "ops": signed}, FakeClock(T))
    outbox.retry = retry
    with database.session() as session:
        enqueue(session, _mail())
        enqueue(session, Notification("wecom", "Li", "s", "b", T, dedupe_key="w"))
        enqueue(session, Notification("ops", "Li", "s", "b", T, dedupe_key="o"))
    outbox.deliver_due(T)
    outbox.deliver_due(T + timedelta(minutes=1))
    rows = _rows(database)
    assert {row.status for row in rows} == {"failed"}
    stored = " ".join(row.last_error or "" for row in rows)
    for secret in ("Sup3r-Secret-Passw0rd", "BOT-TOKEN-4242", "HMAC-KEY-777"):
        assert secret not in caplog.text
        assert secret not in stored
    assert "channel wecom failing" in caplog.text
