"""Every built-in rule speaks zh-CN and en: a title with the rule's own placeholders, a
description and a "check first" list. A rule added to builtin.yaml without its texts fails
here. Evidence of a real fault reads as labelled lines, not as a Python dict."""

from __future__ import annotations

import string
from datetime import timedelta

import yaml

from roomwatch.agent.wire import DeviceSample
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_store import FaultPlace
from roomwatch.collector.faults import FaultTracker, Subject
from roomwatch.collector.reports.advisories import RULE_ID as ADVISORY_RULE
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import BUILTIN_RULES, load_rules
from roomwatch.collector.rules.texts import LANGUAGES, catalog, evidence_lines, texts_for, title_for
from roomwatch.collector.sla.messages import Reader, transition
from roomwatch.collector.workflow import Workflow
from tests.collector.conftest import T0


def _builtin_rules() -> dict[str, str]:
    """rule id → title template, read from the file as it is now."""
    data = yaml.safe_load(BUILTIN_RULES.read_text(encoding="utf-8"))
    return {rule["id"]: rule["title"] for rule in data["rules"]}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_builtin_rule_has_texts_in_both_languages():
    rules = _builtin_rules()
    texts = catalog()
    missing = sorted(
        f"{rule_id} ({language})"
        for rule_id in rules
        for language in LANGUAGES
        if language not in texts.get(rule_id, {})
    )
    assert not missing, f"add these to collector/rules/texts.yaml: {missing}"
    opened_by_code = {ADVISORY_RULE}  # the report's advisory check opens these
    assert not sorted(set(texts) - set(rules) - opened_by_code), "texts for rules that do not exist"
    for rule_id, title in rules.items():
        for language in LANGUAGES:
            text = texts[rule_id][language]
            assert _fields(text.title) <= _fields(title), (rule_id, language, text.title)
            assert text.description.strip() and all(c.strip() for c in text.check)


def test_zh_cn_texts_are_chinese_and_en_texts_are_not():
    for rule_id, by_language in catalog().items():
        zh, en = by_language["zh-CN"], by_language["en"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.description), rule_id
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.description + en.title), rule_id


def test_a_real_fault_reads_in_the_readers_language_with_what_to_check(placed_database: Database):
    tracker = FaultTracker(RuleEngine(load_rules()), Workflow())
    camera_down = DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout")
    with placed_database.session() as session:
        subject = Subject("r1", "agent-1", None, "s1")
        for minute in range(0, 10, 1):  # long enough for any guard on consecutive polls
            tracker.observe(session, subject, camera_down, T0 + timedelta(minutes=minute))
        fault = session.query(Fault).filter(Fault.rule_id == "device_unreachable").one()
        evidence = dict(fault.evidence)
        stored_title = fault.title
    fields = {"device": "cam1", "room": "r1", **(evidence.get("labels") or {})}
    assert title_for("device_unreachable", "zh-CN", fields, stored_title) == "r1 的 cam1 无法访问"
    assert title_for("device_unreachable", "en", fields, stored_title) == "cam1 unreachable in r1"
    assert title_for("device_unreachable", "zh", {}, stored_title) == stored_title  # no fields
    check = texts_for("device_unreachable", "zh-CN")
    assert check is not None and "PoE" in check.check[0]
    for language in ("zh-CN", "en"):
        lines = evidence_lines(evidence, language)
        assert lines and not any("{" in line or "'" in line for line in lines), lines
    assert any(line.startswith("指标：可达") for line in evidence_lines(evidence, "zh-CN"))
    assert evidence_lines({"labels": {"storage": "/record"}}, "en") == ["Where: storage /record"]


def test_the_opened_notification_says_what_to_check_in_the_sites_language():
    fault = Fault(
        id=7,
        rule_id="device_unreachable",
        target="r1/cam1",
        room_id="r1",
        level=1,
        status="open",
        title="cam1 unreachable in r1",
        evidence={"metric": "reachable", "value": 0.0, "labels": {"device": "cam1"}},
    )
    zh = Reader(FaultPlace(language="zh-CN", room_name="一号教室", device="cam1"))
    en = Reader(FaultPlace(language="en", room_name="Room 1", device="cam1"))
    _, zh_body = transition(fault, "opened", T0, "Asia/Shanghai", [], zh)
    _, en_body = transition(fault, "opened", T0, "Asia/Shanghai", [], en)
    assert "1. 交换机上该设备所在端口的状态与 PoE 供电" in zh_body and "Check first" not in zh_body
    assert "1. The switch port's status and PoE power" in en_body and "请先检查" not in en_body
    assert "位置：设备 cam1" in zh_body and "Where: device cam1" in en_body
    assert "{" not in zh_body + en_body
