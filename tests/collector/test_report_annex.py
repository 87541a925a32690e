"""A large site's report leads with a summary part of at most 30 pages and puts every
room's and device's table in an annex after the sign-off; a small site's report is laid
out as before. The site's threshold comes from the inventory file
(``sites[].report.summary_over_rooms``). The PDF is read back page by page with
``pdftotext`` (poppler-utils), as the customer would leaf through it."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import select

from roomwatch.collector.db.models import Device
from roomwatch.collector.db.rollups import RollupBatch
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.reports.i18n import Messages
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.workflow import Workflow

NOW = datetime(2026, 8, 10, 2, 0, tzinfo=UTC)
FIRST_HOUR = datetime(2026, 7, 31, 16, tzinfo=UTC)  # 2026-08-01 00:00 in Shanghai
PERIOD = "2026-08-01..2026-08-03"
ANNEX = Messages("en").t("section.annex")
SIGN_OFF = Messages("en").t("section.signoff")


def _inventory_file(tmp_path: Path, rooms: int, summary_over_rooms: int) -> Path:
    site = {
        "id": "big",
        "name": "District School",
        "timezone": "Asia/Shanghai",
        "report": {"summary_over_rooms": summary_over_rooms},
        "rooms": [
            {
                "id": f"r{n:03d}",
                "name": f"Hall-{n:03d}",
                "agents": [f"agent-{n:03d}"],
                "devices": [
                    {"id": "host", "kind": "host", "model": "RS-8000"},
                    {"id": "cam1", "kind": "camera", "model": "CAM-A"},
                ],
            }
            for n in range(1, rooms + 1)
        ],
    }
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump({"sites": [site]}, allow_unicode=True), encoding="utf-8")
    return path


def _two_days_of_rollups(db: Database) -> None:
    """Hourly rows for every device; every fifth device misses some hours (worst rooms)."""
    with db.session() as session:
        devices = list(session.scalars(select(Device.id).order_by(Device.id)))
        batch = RollupBatch()
        for h in range(48):
            hour = FIRST_HOUR + timedelta(hours=h)
            for device in devices:
                down = device % 5 == 0 and h % (device % 7 + 2) == 0
                batch.add_value(device, "reachable", hour, 0.0 if down else 1.0)
                batch.add_value(device, "rtt_ms", hour, 1.0 + device % 3)
        batch.flush(session)


def _pages(pdf: bytes, tmp_path: Path, name: str) -> list[str]:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: apt-get install poppler-utils"
    path = tmp_path / name
    path.write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return text.split("\f")[:-1]  # pdftotext ends every page with a form feed


def _report_pages(database: Database, tmp_path: Path, rooms: int, threshold: int) -> list[str]:
    inventory = _inventory_file(tmp_path, rooms, threshold)
    sync_inventory(database, load_inventory(inventory))
    _two_days_of_rollups(database)
    service = ReportService(
        database, Workflow(), "Asia/Shanghai", clock=lambda: NOW, inventory_file=inventory
    )
    generated = service.generate("big", PERIOD, "en", "engineer", archive=False)
    assert generated.pdf is not None
    return _pages(generated.pdf, tmp_path, f"report-{rooms}.pdf")


def test_a_large_site_gets_a_summary_of_at_most_30_pages_and_every_room_in_the_annex(
    database: Database, tmp_path: Path
):
    rooms = 45
    pages = _report_pages(database, tmp_path, rooms, threshold=20)
    # Page 1 holds the cover and the contents (which name the annex too); the annex opens
    # a new page after the sign-off.
    assert ANNEX in pages[0]
    annex_starts = min(i for i, page in enumerate(pages) if i > 0 and ANNEX in page)
    summary, annex = pages[:annex_starts], "\n".join(pages[annex_starts:])
    assert len(summary) <= 30
    assert any(SIGN_OFF in page for page in summary[1:])  # signed before the annex
    names = [f"Hall-{n:03d}" for n in range(1, rooms + 1)]
    assert [name for name in names if name not in annex] == []
    # The summary names the rooms that need attention, not all of them.
    summary_text = "\n".join(summary)
    assert "The 20 rooms with the lowest availability" in summary_text
    assert 0 < sum(name in summary_text for name in names) < rooms


def test_a_site_at_its_threshold_keeps_every_table_in_its_section(
    database: Database, tmp_path: Path
):
    pages = _report_pages(database, tmp_path, rooms=12, threshold=12)
    text = "\n".join(pages)
    assert ANNEX not in text
    messages = Messages("en")
    assert messages.t("section.rooms") in text and messages.t("section.devices") in text
    assert all(f"Hall-{n:03d}" in text for n in range(1, 13))
