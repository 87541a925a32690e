"""The service plan's pages in a real browser (Debian chromium) at a phone's width, each in
one language, signed in as the role that uses it; outcomes checked through the API: the
window exists, the stock grew, the school's checklist confirmation is stored, a new token
works, a contact and a shift changed in place read back as changed; the survey sent by the
engineer and answered by the school counts in the satisfaction summary."""

from __future__ import annotations

from typing import Any

import pytest

from roomwatch.collector.api.auth import create_user
from roomwatch.collector.db import faults_store, sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.workflow.logbook import LogEntry
from tests.collector.dispatch_support import open_fault, workflow
from tests.collector.sla_support import FakeClock
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
FIXED = LogEntry(
    phenomenon="投影仪无信号。",
    cause="HDMI 线松动。",
    solution="重新插紧 HDMI 线。",
    engineer="王工",
)


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


@pytest.fixture(scope="module")
def admin(site: Site) -> str:  # noqa: F811
    """An admin bound to no site, for the module's admin pages."""
    with site.db.session() as session:
        create_user(session, "admin1", "admin", MONDAY_2200, password=PASSWORD)
    return "admin1"


def test_admin_issues_a_token_that_works_in_chinese(phone: Any, site: Site, admin: str):  # noqa: F811
    page = phone(admin, "zh-CN")
    page.goto(f"{site.url}/ui/users")
    page.fill("#token-wang input[name=name]", "巡检脚本")
    assert submit(page, "token-wang") == "已保存。"
    secret = page.locator("#shown-secret code").inner_text()
    assert secret
    me = page.request.get(f"{site.url}/api/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.ok and me.json()["username"] == "wang"
    assert "巡检脚本" in page.locator("[data-user=wang] .tokens").inner_text()
    assert fits(page) and page.problems == []


def survey_due(db: Database) -> int:
    """A projector fault fixed on site and resolved: its satisfaction survey is due."""
    clock = FakeClock(MONDAY_2200)
    fault_id = open_fault(db, clock, "r1", "proj", "投影仪无信号", 3)
    flow = workflow(clock)
    with db.session() as session:
        fault = faults_store.get_fault(session, fault_id)
        flow.transition(session, fault, "on_site", "wang", clock.now)
        flow.transition(session, fault, "resolved", "wang", clock.now, log=FIXED)
    return fault_id


def test_engineer_sends_a_survey_the_school_answers_and_the_summary_shows_it(
    phone: Any,  # noqa: F811
    site: Site,  # noqa: F811
):
    fault_id = survey_due(site.db)
    engineer = phone("wang", "zh-CN")
    engineer.goto(f"{site.url}/ui/surveys")
    item = f".survey[data-fault='{fault_id}']"
    assert engineer.locator(f"{item} .survey-state").inner_text() == "待发送"
    engineer.select_option(f"#sent-{fault_id} select[name=channel]", "wechat")
    assert submit(engineer, f"sent-{fault_id}") == "已保存。"
    assert engineer.locator(f"{item} .survey-state").inner_text() == "已发送"
    assert engineer.locator(f"#sent-{fault_id}").count() == 0
    assert fits(engineer) and engineer.problems == []

    school = phone("zhou", "zh-CN")
    school.goto(f"{site.url}/ui/surveys")
    assert school.locator(f"#sent-{fault_id}").count() == 0  # engineers send
    school.select_option(f"#answer-{fault_id} select[name=score]", "4")
    school.fill(f"#answer-{fault_id} input[name=comment]", "工程师当天到场，讲解清楚")
    assert submit(school, f"answer-{fault_id}") == "已保存。"
    assert school.locator(f"{item} .survey-state").inner_text() == "已答复"
    answer = school.locator(f"{item} .answer").inner_text()
    assert "4/5" in answer and "工程师当天到场，讲解清楚" in answer
    assert school.locator(f"#answer-{fault_id}").count() == 0
    summary = school.locator("#survey-summary tr[data-site=s1][data-quarter='2025Q1'] td")
    assert summary.all_inner_texts() == ["First School", "2025Q1", "1", "1", "0", "4.00"]
    assert fits(school) and school.problems == []

    stored = api(school, f"/api/faults/{fault_id}/survey")
    assert (stored["channel"], stored["score"]) == ("wechat", 4)
    assert stored["comment"] == "工程师当天到场，讲解清楚" and stored["answered_at"]
    engineer.reload()
    assert engineer.locator("#survey-summary tr[data-site=s1] td.mean").inner_text() == "4.00"


def test_admin_adds_a_contact_and_edits_contacts_in_place_in_english(
    phone: Any,  # noqa: F811
    site: Site,  # noqa: F811
    admin: str,
):
    with site.db.session() as session:
        principal = sla_store.put_contact(
            session,
            ContactDoc(
                name="Zhou Min",
                role="school",  # from a site's policy file: not a role the form offers
                site="s1",
                email="zhou@school.cn",
                channels=["school-wechat"],
                note="Principal's office",
            ),
        ).id
    page = phone(admin, "en")
    page.goto(f"{site.url}/ui/contacts")
    page.fill("#contact-form input[name=name]", "Liu Yang")
    page.select_option("#contact-form select[name=role]", "project_lead")
    page.select_option("#contact-form select[name=site]", "s1")
    page.fill("#contact-form input[name=phone]", "138 0000 0001")
    assert submit(page, "contact-form") == "Saved."
    added = page.locator("li[data-contact]", has_text="Liu Yang")
    assert added.locator(".contact-line").inner_text() == (
        "Liu Yang · project lead · s1 · 138 0000 0001"
    )
    liu = int(added.get_attribute("data-contact") or 0)

    page.click(f"li[data-contact='{liu}'] summary")
    page.select_option(f"#edit-contact-{liu} select[name=role]", "senior_engineer")
    page.select_option(f"#edit-contact-{liu} select[name=site]", "")
    page.fill(f"#edit-contact-{liu} input[name=phone]", "138 0000 0002")
    page.fill(f"#edit-contact-{liu} input[name=email]", "liu@example.edu.cn")
    assert submit(page, f"edit-contact-{liu}") == "Saved."
    assert page.locator(f"li[data-contact='{liu}'] .contact-line").inner_text() == (
        "Liu Yang · senior engineer · every site · 138 0000 0002 · liu@example.edu.cn"
    )
    page.click(f"li[data-contact='{principal}'] summary")
    page.fill(f"#edit-contact-{principal} input[name=phone]", "010 6000 0000")
    assert submit(page, f"edit-contact-{principal}") == "Saved."
    assert "010 6000 0000" in page.locator(f"li[data-contact='{principal}']").inner_text()
    assert fits(page) and page.problems == []

    contacts = {c["id"]: c for c in api(page, "/api/sla/contacts")}
    assert [c["name"] for c in contacts.values()].count("Liu Yang") == 1  # edited, not added
    edited = contacts[liu]
    assert (edited["role"], edited["site_id"], edited["phone"], edited["email"]) == (
        "senior_engineer",
        None,
        "138 0000 0002",
        "liu@example.edu.cn",
    )
    # what the form does not show survives the edit: the role, the extra channel, the note
    kept = contacts[principal]
    assert kept["phone"] == "010 6000 0000" and kept["email"] == "zhou@school.cn"
    assert (kept["role"], kept["site_id"], kept["channels"], kept["note"]) == (
        "school",
        "s1",
        ["school-wechat"],
        "Principal's office",
    )


def test_admin_edits_a_weekly_shift_and_a_date_override_in_chinese(
    phone: Any,  # noqa: F811
    site: Site,  # noqa: F811
    admin: str,
):
    page = phone(admin, "zh-CN")
    page.goto(f"{site.url}/ui/roster")
    on_duty = page.locator(".roster-site[data-site=s1] .on-duty")
    page.fill("#shift-s1 input[name=person]", "wang")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        page.check(f"#shift-s1 input[value={day}]")
    page.fill("#shift-s1 input[name=start]", "08:00")
    page.fill("#shift-s1 input[name=end]", "18:00")
    assert submit(page, "shift-s1") == "已保存。"
    page.fill("#shift-s1 input[name=person]", "li")
    page.fill("#shift-s1 input[name=day]", "2025-03-05")
    page.fill("#shift-s1 input[name=start]", "06:00")
    page.fill("#shift-s1 input[name=end]", "08:00")
    page.fill("#shift-s1 input[name=label]", "代班")
    assert submit(page, "shift-s1") == "已保存。"
    assert on_duty.inner_text() == "无人"  # Tuesday 07:00 in Beijing: before wang's shift
    ids = {s["person"]: s["id"] for s in api(page, "/api/roster/s1")["shifts"]}
    weekly, override = ids["wang"], ids["li"]

    page.click(f"li[data-shift='{weekly}'] summary")  # wang starts at 07:00, Saturdays too
    page.fill(f"#edit-shift-{weekly} input[name=start]", "07:00")
    page.check(f"#edit-shift-{weekly} input[value=sat]")
    assert submit(page, f"edit-shift-{weekly}") == "已保存。"
    assert page.locator(f"li[data-shift='{weekly}'] > strong").inner_text() == "wang"
    line = page.locator(f"li[data-shift='{weekly}']").inner_text()
    assert "周一 周二 周三 周四 周五 周六 07:00–18:00" in line
    assert on_duty.inner_text() == "wang"

    page.click(f"li[data-shift='{override}'] summary")  # li covers today instead
    page.fill(f"#edit-shift-{override} input[name=day]", "2025-03-04")
    assert submit(page, f"edit-shift-{override}") == "已保存。"
    assert (
        "2025-03-04 06:00–08:00 代班" in page.locator(f"li[data-shift='{override}']").inner_text()
    )
    assert on_duty.inner_text() == "li"  # the override wins over the weekly plan
    assert fits(page) and page.problems == []

    roster = api(page, "/api/roster/s1")
    assert roster["on_duty_now"] == "li"
    shifts = {s["id"]: s for s in roster["shifts"]}
    assert sorted(shifts) == sorted([weekly, override])  # edited in place, none added
    assert (shifts[weekly]["weekdays"], shifts[weekly]["day"]) == (
        ["mon", "tue", "wed", "thu", "fri", "sat"],
        None,
    )
    assert (shifts[weekly]["start"], shifts[weekly]["end"]) == ("07:00", "18:00")
    dated = shifts[override]
    assert (dated["person"], dated["day"], dated["weekdays"], dated["label"]) == (
        "li",
        "2025-03-04",
        [],
        "代班",
    )
    assert (dated["start"], dated["end"]) == ("06:00", "08:00")
