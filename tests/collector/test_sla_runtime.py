"""The SLA engine as the collector runs it: site files loaded at start, and the tick that
sweeps for escalations and delivers them through a real (signed) webhook."""

from __future__ import annotations

from datetime import timedelta

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.notify.webhook import SIGNATURE_HEADER, verify_signature
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.sla.runtime import SlaConfig, SlaTicker, load_sla_data
from tests.collector.notify_servers import webhook_server
from tests.collector.sla_support import FakeClock, cst, new_fault


def test_the_tick_escalates_and_delivers_each_step_once_through_a_signed_webhook(
    placed_database: Database,
):
    db = placed_database
    opened = cst(2025, 3, 3, 10)  # 7x24 L1: respond due 10:30
    clock = FakeClock(opened)
    load_sla_data(db, opened, [])
    with db.session() as session:
        for name, role in (("Duty", "engineer_on_duty"), ("Lead", "project_lead")):
            sla_store.put_contact(session, ContactDoc(name=name, role=role, channels=["ops"]))
    with webhook_server() as (url, hook):
        config = SlaConfig.model_validate(
            {
                "sweep_every_s": 60,
                "notify": {
                    "webhooks": {"ops": {"url": url, "secret": "s3cret"}},
                    "deliver_every_s": 60,
                },
            }
        )
        ticker = SlaTicker.build(db, config, clock)
        with db.session() as session:
            fault = new_fault(session, 1, opened)
            ticker.service.start_clocks(session, fault, opened)
            ticker.service.notify_transition(session, fault, "opened", opened)
        while clock.now < cst(2025, 3, 3, 10, 45):
            ticker.tick()
            clock.advance(timedelta(minutes=1))
    subjects = [body["subject"] for body in hook.bodies()]
    assert len(subjects) == 3
    assert "新故障" in subjects[0]  # the site reads zh-CN (its default)
    assert "响应" in subjects[1] and "engineer_on_duty" in subjects[1]
    assert "响应" in subjects[2] and "project_lead" in subjects[2]
    for _, headers, body in hook.requests:
        assert verify_signature("s3cret", body, headers[SIGNATURE_HEADER])
    with db.session() as session:
        assert {m.status for m in sla_store.outbox_messages(session)} == {"sent"}
