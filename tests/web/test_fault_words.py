"""Faults on the dashboard read in the language the user chose: the rule's title, what it
means, what to check first and the evidence as labelled lines — on the fault page, the
fault board, the room page and the grid tile. Nothing of the other language shows."""

from __future__ import annotations

import re

import pytest

from roomwatch.collector.db import faults_store
from roomwatch.collector.db.session import Database
from tests.web.test_pages import Site, text_of

ZH_TITLE = "Room 1 的 cam1 无法访问"
EN_TITLE = "cam1 unreachable in Room 1"


@pytest.fixture
def site(database: Database) -> Site:
    return Site(database)


def test_the_zh_cn_fault_page_says_what_happened_and_what_to_check_in_chinese(site: Site):
    html = site.client.get(f"/ui/faults/{site.fault_id}", params={"lang": "zh-CN"}).text
    page = text_of(html)
    assert f"{ZH_TITLE}" in page
    assert "设备对 SNMP 或网络探测无应答" in page  # the description
    check = re.search(r'id="check-first".*?</div>', html, re.S)
    assert check is not None and "请先检查" in check.group(0)
    assert "交换机上该设备所在端口的状态与 PoE 供电" in check.group(0)
    evidence = re.search(r'id="evidence".*?</ul>', html, re.S)
    assert evidence is not None
    assert "指标：可达" in evidence.group(0) and "数值：0" in evidence.group(0)
    # none of the rule's English words, no raw evidence keys or Python dicts
    for english in ("unreachable in", "answers neither", "Check first", "PoE power for"):
        assert english not in page, english
    assert "{'" not in html and "<dt>metric</dt>" not in html and "<dt>value</dt>" not in html


def test_the_en_fault_page_is_english(site: Site):
    page = text_of(site.client.get(f"/ui/faults/{site.fault_id}", params={"lang": "en"}).text)
    assert EN_TITLE in page and "Check first" in page and "Metric: reachable" in page
    assert "status and PoE power for this device" in page
    assert "无法访问" not in page and "请先检查" not in page


def test_board_room_and_grid_show_the_title_in_the_readers_language(site: Site):
    for path in ("/ui/faults", "/ui/rooms/r1", "/ui/", "/ui/faults?view=history"):
        chinese = text_of(site.client.get(path, params={"lang": "zh-CN"}).text)
        assert ZH_TITLE in chinese and "cam1 unreachable" not in chinese, path
        english = text_of(site.client.get(path, params={"lang": "en"}).text)
        assert EN_TITLE in english and ZH_TITLE not in english, path


def test_a_rule_without_texts_keeps_its_stored_title(site: Site):
    with site.db.session() as session:
        fault = faults_store.get_fault(session, site.fault_id)
        fault.rule_id = "site_custom_check"
        fault.title = "Custom: projector lamp door open"
    page = text_of(site.client.get(f"/ui/faults/{site.fault_id}", params={"lang": "zh-CN"}).text)
    assert "Custom: projector lamp door open" in page and 'id="check-first"' not in page
    assert "指标：可达" in page  # the evidence is still worded
