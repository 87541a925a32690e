"""A Chinese reader meets no English: every dashboard page (enumerated from the app's
routes, so a new page is covered the day it is added), the quarterly report (HTML and its
PDF read back with pdftotext) and a notification, rendered in zh-CN over a demo-like world,
show no Latin word outside the allow-list (ids, units, acronyms of the trade, models,
vendors, firmware, the product's name, what people typed). An English reader, in turn,
meets no Chinese outside what people typed."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from starlette.routing import Route

from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user
from roomwatch.collector.db.models import Device, Fault
from roomwatch.collector.db.session import open_database
from roomwatch.collector.db.sla_store import fault_place
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.period import parse_period
from roomwatch.collector.reports.render import render_report
from roomwatch.collector.sla import messages
from roomwatch.collector.web import WebSettings
from tests.collector.test_report import NOW, QUARTER, ZONE
from tests.web.conftest import ARTIFACTS, LiveServer
from tests.web.visible_text import foreign_words, visible_text
from tests.web.zh_world import World, build_world

# Routes that are no page: the live stream, assets, the language switch (a redirect).
NOT_PAGES = {"/ui/live", "/ui/lang/{lang}", "/ui/static", "/ui/logout"}
PASSWORD = "engineer-pass-1"
# The page's text as chromium lays it out, without <code> (identifiers shown on purpose).
SHOWN_TEXT = """() => {
  const hidden = [...document.querySelectorAll('code')];
  hidden.forEach((e) => { e.dataset.was = e.textContent; e.textContent = ''; });
  const text = document.body.innerText;
  hidden.forEach((e) => { e.textContent = e.dataset.was; });
  return text;
}"""


@dataclass
class Served:
    world: World
    client: TestClient
    app: object


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("zh")
    db = open_database(f"sqlite:///{tmp / 'world.db'}")
    world = build_world(db)
    with db.session() as session:
        # an admin: every page opens for it (users and contacts are admins' pages)
        create_user(session, "engineer", "admin", NOW, password=PASSWORD)
    world.user_words |= {"engineer"}
    app = create_app(
        db,
        CollectorRegistry(),
        web=WebSettings(tsdb_url=None, timezone=ZONE, live_poll_s=0.05),
        clock=lambda: NOW,
    )
    client = TestClient(app)
    signed = client.post("/ui/login", data={"username": "engineer", "password": PASSWORD})
    assert signed.status_code in (200, 303), signed.text
    yield Served(world, client, app)
    db.dispose()


def _routes(routes: list[Any]) -> Iterator[Any]:
    """The app's routes, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        yield from _routes(inner.routes) if inner is not None else [route]


def page_urls(served: Served) -> list[str]:
    """Every GET page of the dashboard with its path parameters filled from the world."""
    with served.world.db.session() as session:
        devices = [(d.room_id, d.device) for d in session.scalars(select(Device))]
        faults = [f.id for f in session.scalars(select(Fault))]
    rooms = sorted({room for room, _ in devices})
    fillers = {
        "room": rooms,
        "room_id": rooms,
        "fault_id": faults,
    }
    urls: list[str] = []
    for route in _routes(served.app.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if not path.startswith("/ui") or any(path.startswith(p) for p in NOT_PAGES):
            continue
        if not isinstance(route, APIRoute | Route) or "GET" not in (route.methods or set()):
            continue
        params = re.findall(r"{(\w+)}", path)
        if len(params) == 2 and params[1].startswith("device"):
            for room, device in devices:
                base = path.replace(f"{{{params[0]}}}", room).replace(f"{{{params[1]}}}", device)
                urls += [f"{base}?range={r}" for r in ("24h", "7d", "90d")]
            continue
        unknown = [p for p in params if p not in fillers]
        assert not unknown, f"{path}: teach page_urls how to fill {unknown}"
        if not params:
            urls.append(path)
        else:
            (name,) = params
            urls += [path.replace(f"{{{name}}}", str(v)) for v in fillers[name]]
    urls += ["/ui/faults?view=history", "/ui/faults?view=history&status=resolved"]
    return urls


def test_every_dashboard_page_in_zh_cn_has_no_english(served: Served):
    leaks: dict[str, dict[str, str]] = {}
    urls = page_urls(served)
    assert len(urls) > 40  # the world has pages of every kind
    for path in urls:
        response = served.client.get(path, params={"lang": "zh-CN"})
        assert response.status_code == 200, path
        found = foreign_words(visible_text(response.text), "zh-CN", served.world.user_words)
        if found:
            leaks[path] = found
    assert not leaks, _summary(leaks)


def test_every_dashboard_page_in_en_has_no_chinese(served: Served):
    leaks: dict[str, dict[str, str]] = {}
    for path in page_urls(served):
        response = served.client.get(path, params={"lang": "en"})
        # the language switch names Chinese in Chinese
        found = foreign_words(visible_text(response.text), "en", _typed_chinese(served) | {"中文"})
        if found:
            leaks[path] = found
    assert not leaks, _summary(leaks)


def _typed_chinese(served: Served) -> set[str]:
    """Chinese that people and the inventory typed (names, logs, notes) stays as written."""
    from tests.web.zh_world import typed_texts

    return {
        w for text in typed_texts(served.world.db) for w in re.findall(r"[\u3400-\u9fff]+", text)
    }


def _summary(leaks: dict[str, dict[str, str]]) -> str:
    words: dict[str, list[str]] = {}
    for path, found in leaks.items():
        for word, context in found.items():
            words.setdefault(word, []).append(f"{path}: …{context}…")
    return "\n".join(
        f"{w!r}: {places[0]} (+{len(places) - 1} pages)" for w, places in sorted(words.items())
    )


def test_the_zh_cn_report_html_and_pdf_have_no_english(served: Served, tmp_path: Path):
    html, text = _report_texts(served, "zh-CN", tmp_path)
    # row labels by name: checklist failures, the running parameters, hazard titles
    assert "挂载点 /" in html and "存储 /record" in html and "端口 ge3" in html
    found = foreign_words(visible_text(html), "zh-CN", served.world.user_words)
    assert not found, _summary({"report.html": found})
    found = foreign_words(text, "zh-CN", served.world.user_words)
    assert not found, _summary({"report.pdf": found})


def test_the_en_report_html_and_pdf_have_no_chinese(served: Served, tmp_path: Path):
    html, text = _report_texts(served, "en", tmp_path)
    assert "mount /" in html and "storage /record" in html and "port ge3" in html
    typed = _typed_chinese(served)
    found = foreign_words(visible_text(html), "en", typed)
    assert not found, _summary({"report.html": found})
    # a table cell wraps a long typed name (综合楼三楼录 / 播室): its parts count as typed
    found = {
        word: context
        for word, context in foreign_words(text, "en", typed).items()
        if not any(word in name for name in typed)
    }
    assert not found, _summary({"report.pdf": found})


def _report_texts(served: Served, lang: str, tmp_path: Path) -> tuple[str, str]:
    """The quarterly report of the world's site in ``lang``: its HTML, and its PDF's text
    as pdftotext reads it back."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext missing: apt-get install poppler-utils")
    with served.world.db.session() as session:
        report = build_report(session, "s1", parse_period(QUARTER, ZONE), lang, NOW)
    html, pdf = render_report(report, lang)
    assert pdf is not None
    (tmp_path / f"report-{lang}.pdf").write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / f"report-{lang}.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return html, text


def test_a_zh_cn_notification_has_no_english(served: Served):
    with served.world.db.session() as session:
        faults = list(session.scalars(select(Fault)))
        leaks: dict[str, dict[str, str]] = {}
        for fault in faults:
            reader = messages.Reader(fault_place(session, fault), "https://rw.example.cn/")
            subject, body = messages.transition(
                fault, "opened", NOW, ZONE, [("respond", NOW), ("fix", NOW)], reader
            )
            up, text = messages.escalation(
                fault, "breach", "项目负责人", "fix", NOW, ZONE, "", reader
            )
            for name, words in (("subject", subject), ("body", body), ("escalation", up + text)):
                found = foreign_words(
                    words.replace("https://rw.example.cn/ui/faults/", ""),
                    "zh-CN",
                    served.world.user_words,
                )
                if found:
                    leaks[f"{fault.rule_id} {name}"] = found
    assert not leaks, _summary(leaks)


@pytest.mark.e2e
def test_in_a_real_browser_zh_cn_pages_show_no_english(served: Served, browser: Any):
    """What app.js renders counts too: chromium's own innerText of the pages after their
    scripts ran, the fault page looked at on a phone and on a desktop."""
    server = LiveServer(served.app)
    server.start()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/ui/login")
        page.fill("input[name=username]", "engineer")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/ui/")
        with served.world.db.session() as session:
            storage = session.scalar(select(Fault.id).where(Fault.rule_id == "storage_filling"))
        leaks: dict[str, dict[str, str]] = {}
        for path in ("/ui/", "/ui/rooms/r3", "/ui/faults", f"/ui/faults/{storage}"):
            page.goto(f"{server.url}{path}?lang=zh-CN")
            page.wait_for_load_state("networkidle")
            shown = page.evaluate(SHOWN_TEXT)
            found = foreign_words(shown, "zh-CN", served.world.user_words)
            if found:
                leaks[path] = found
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "fault-zh-desktop.png"), full_page=True)
        check = page.locator("#check-first")
        assert check.evaluate("e => getComputedStyle(e).borderLeftStyle") == "solid"
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / "fault-zh-phone.png"), full_page=True)
        assert not leaks, _summary(leaks)
    finally:
        context.close()
        server.stop()
