"""The service plan's pages in a real browser (Debian chromium) at a phone's width, each in
one language, signed in as the role that uses it; outcomes checked through the API: the
window exists, the stock grew, the school's checklist confirmation is stored, a new token
works."""

from __future__ import annotations

from typing import Any

import pytest

from roomwatch.collector.api.auth import create_user
from tests.web.test_workflow_steps import (  # noqa: F401 - the fixtures
    MONDAY_2200,
    PASSWORD,
    Site,
    api,
    fits,
    phone,
    site,
    submit,
)

pytestmark = pytest.mark.e2e


def test_engineer_schedules_a_window_and_restocks_spares_in_chinese(phone: Any, site: Site):  # noqa: F811
    page = phone("wang", "zh-CN")
    page.goto(f"{site.url}/ui/windows")
    page.fill("#window-form input[name=name]", "期末考试停用")
    page.select_option("#window-form select[name=site_id]", "s1")
    page.select_option("#window-form select[name=kind]", "weekly")
    page.check("#window-form fieldset[data-checks] input[value='5']")
    page.fill("#window-form input[name=start_time]", "08:00")
    page.fill("#window-form input[name=end_time]", "12:00")
    assert submit(page, "window-form") == "已保存。"
    assert "期末考试停用" in page.locator("#windows").inner_text()
    assert fits(page)
    windows = api(page, "/api/maintenance-windows?site=s1")
    made = next(w for w in windows if w["name"] == "期末考试停用")
    assert made["kind"] == "weekly" and made["weekdays"] == [5]

    page.goto(f"{site.url}/ui/spares")
    before = {q["model"]: q["held"] for q in api(page, "/api/spares/s1/quota")}
    page.fill("#restock-s1 input[name=model]", "PA-12V")
    page.fill("#restock-s1 input[name=quantity]", "3")
    assert submit(page, "restock-s1") == "已保存。"
    after = {q["model"]: q["held"] for q in api(page, "/api/spares/s1/quota")}
    assert after["PA-12V"] == before.get("PA-12V", 0) + 3
    assert "补货入库" in page.locator(".spare-site[data-site=s1] .movements").inner_text()
    assert fits(page) and page.problems == []


def test_school_confirms_the_checklist_in_english(phone: Any, site: Site):  # noqa: F811
    page = phone("zhou", "en")
    page.goto(f"{site.url}/ui/inspections")
    assert page.locator("#confirm-s1").count() == 1
    assert page.locator("#generate-s1, #visit-s1").count() == 0  # engineers' forms
    page.fill("#confirm-s1 input[name=note]", "Checklist agreed on the phone")
    assert submit(page, "confirm-s1") == "Saved."
    assert "Confirmed by zhou" in page.locator(".confirmed").inner_text()
    stored = api(page, "/api/inspections/s1/periods/2025Q1/confirmation")
    assert stored["confirmed_by"] == "zhou" and stored["entered_role"] == "school"
    assert fits(page) and page.problems == []


def test_admin_issues_a_token_that_works_in_chinese(phone: Any, site: Site):  # noqa: F811
    with site.db.session() as session:
        create_user(session, "admin1", "admin", MONDAY_2200, password=PASSWORD)
    page = phone("admin1", "zh-CN")
    page.goto(f"{site.url}/ui/users")
    page.fill("#token-wang input[name=name]", "巡检脚本")
    assert submit(page, "token-wang") == "已保存。"
    secret = page.locator("#shown-secret code").inner_text()
    assert secret
    me = page.request.get(f"{site.url}/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["username"] == "wang"
    assert "巡检脚本" in page.locator("[data-user=wang] .tokens").inner_text()
    assert fits(page) and page.problems == []
