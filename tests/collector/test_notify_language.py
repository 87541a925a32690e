"""A fault's notification speaks the language of its site and says where to go: a camera
goes down in a Chinese school and in an English-speaking one; each duty engineer gets one
e-mail (through a real SMTP server) in the site's language that names the school, the room,
the camera's model and links to the fault page; the webhook (a real HTTP receiver) gets
the same words beside the machine fields."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from pydantic import ValidationError

from roomwatch.agent.wire import DeviceSample
from roomwatch.collector.db import sla_store
from roomwatch.collector.db.models import Device, Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_store import FaultPlace
from roomwatch.collector.faults import FaultTracker, Subject
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules
from roomwatch.collector.sla import messages
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.sla.runtime import SlaConfig, SlaTicker
from roomwatch.collector.workflow import Workflow
from roomwatch.collector.workflow.hooks import ServiceHooks
from tests.collector.notify_servers import smtp_server, webhook_server
from tests.collector.sla_support import FakeClock, cst, load_shipped

PUBLIC_URL = "https://roomwatch.example.edu.cn/"
SITES = [
    # (site, name, language, room, room name, agent, camera model, duty e-mail)
    (
        "yz",
        "第一中学",
        "zh-CN",
        "yz-301",
        "高一(3)班录播教室",
        "agent-yz",
        "DS-2CD2T47G2",
        "zh@x.cn",
    ),
    ("rs", "Riverside School", "en", "rs-12", "Studio 12", "agent-rs", "AXIS P1465-LE", "en@x.cn"),
]


def _inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": site,
                    "name": name,
                    "language": language,
                    "rooms": [
                        {
                            "id": room,
                            "name": room_name,
                            "agents": [agent],
                            "devices": [{"id": "cam1", "kind": "camera", "model": model}],
                        }
                    ],
                }
                for site, name, language, room, room_name, agent, model, _ in SITES
            ]
        }
    )


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _mails(box) -> dict[str, EmailMessage]:  # type: ignore[no-untyped-def]
    mails = {}
    for envelope in box.envelopes:
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        [recipient] = envelope.rcpt_tos
        mails[recipient] = mail
    return mails


def test_each_site_hears_of_its_fault_in_its_language_with_school_room_model_and_link(
    database: Database,
):
    db = database
    sync_inventory(db, _inventory())
    opened = cst(2025, 3, 3, 10)
    load_shipped(db, opened)
    with db.session() as session:
        for site, *_, duty in SITES:
            sla_store.put_contact(
                session,
                ContactDoc(
                    name=f"duty {site}",
                    role="engineer_on_duty",
                    site=site,
                    email=duty,
                    channels=["ops"],
                ),
            )
    clock = FakeClock(opened)
    with smtp_server() as (port, box), webhook_server() as (url, hook):
        config = SlaConfig.model_validate(
            {
                "notify": {
                    "email": {
                        "host": "127.0.0.1",
                        "port": port,
                        "security": "none",
                        "sender": "roomwatch@example.edu.cn",
                    },
                    "webhooks": {"ops": {"url": url, "secret": "s3cret"}},
                    "public_url": PUBLIC_URL,
                }
            }
        )
        ticker = SlaTicker.build(db, config, clock)
        tracker = FaultTracker(
            RuleEngine(load_rules()), Workflow(hooks=ServiceHooks(ticker.service))
        )
        down = DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout")
        with db.session() as session:
            for minute in range(6):  # past the camera's guard on consecutive polls
                for site, _, _, room, _, agent, _, _ in SITES:
                    camera = session.query(Device).filter_by(room_id=room).one()
                    subject = Subject(room, agent, camera.id, site)
                    tracker.observe(session, subject, down, opened + timedelta(minutes=minute))
            faults = {
                f.room_id: f.id
                for f in session.query(Fault).filter(Fault.rule_id == "device_unreachable")
            }
        clock.advance(timedelta(minutes=7))
        ticker.tick()
        mails = _mails(box)
        hooks = [json.loads(body) for _, _, body in hook.requests]

    zh_mail, en_mail = mails["zh@x.cn"], mails["en@x.cn"]
    zh_text = zh_mail["Subject"] + "\n" + zh_mail.get_content()
    en_text = en_mail["Subject"] + "\n" + en_mail.get_content()

    assert "新故障" in zh_mail["Subject"] and "高一(3)班录播教室 的 cam1 无法访问" in zh_text
    for said in ("学校：第一中学", "教室：高一(3)班录播教室", "设备：cam1 (DS-2CD2T47G2)"):
        assert said in zh_text
    assert "请先检查" in zh_text and "交换机上该设备所在端口的状态与 PoE 供电" in zh_text
    assert f"详情：https://roomwatch.example.edu.cn/ui/faults/{faults['yz-301']}" in zh_text
    for english in ("unreachable", "Check first", "opened", "School", "deadline"):
        assert english not in zh_text, english  # nothing of the other language

    assert "opened" in en_mail["Subject"] and "cam1 unreachable in Studio 12" in en_text
    for said in ("School: Riverside School", "Room: Studio 12", "Device: cam1 (AXIS P1465-LE)"):
        assert said in en_text
    assert "Check first" in en_text and "PoE power for this device" in en_text
    assert f"Details: https://roomwatch.example.edu.cn/ui/faults/{faults['rs-12']}" in en_text
    assert not _has_chinese(en_text), en_text

    by_room = {h["data"]["room"]: h for h in hooks}
    zh_hook = by_room["yz-301"]
    expected = {
        "fault_id": faults["yz-301"],
        "level": 1,
        "rule": "device_unreachable",
        "site": "yz",
        "site_name": "第一中学",
        "room_name": "高一(3)班录播教室",
        "device": "cam1",
        "model": "DS-2CD2T47G2",
        "language": "zh-CN",
        "url": f"https://roomwatch.example.edu.cn/ui/faults/{faults['yz-301']}",
    }
    assert {key: zh_hook["data"].get(key) for key in expected} == expected
    assert "请先检查" in zh_hook["body"] and by_room["rs-12"]["data"]["language"] == "en"


def test_without_a_public_url_there_is_no_link_and_no_error():
    assert SlaConfig.model_validate({"notify": {}}).notify.public_base() is None
    fault = Fault(id=3, rule_id="device_unreachable", room_id="r1", level=1, title="t", evidence={})
    place = FaultPlace(site_name="第一中学", room_name="一号教室", device="cam1")
    _, body = messages.transition(
        fault,
        "opened",
        cst(2025, 3, 3, 10),
        "Asia/Shanghai",
        [],
        messages.Reader(place, public_url=None),
    )
    assert "一号教室 的 cam1 无法访问" in body and "http" not in body and "详情" not in body
    bad = {"notify": {"public_url": "roomwatch.example.edu.cn"}}  # no scheme: refused early
    with pytest.raises(ValidationError, match="public_url"):
        SlaConfig.model_validate(bad)
