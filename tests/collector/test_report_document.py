"""The inspection report as a document a school signs: charts for a day, a week and a
quarter; the checklist's free space; the spare table's models; kinds in Chinese; the
sign-off block with configured names and the school's logo; page numbers; a table of
contents for a long report. The PDF is read back with ``pdftotext`` (poppler-utils)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.wire import DeviceInfo, InventoryMessage
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import load_inventory
from roomwatch.collector.reports.render import render_html
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.workflow import Workflow
from tests.collector.test_report import (
    ARTIFACTS,
    DISK_PER_DAY,
    DISK_START,
    NOW,
    PERIOD,
    QUARTER,
    build_quarter_history,
    history_inventory,
)


def _daily_chart_points(html: str) -> int:
    chart = html.split('<div class="chart">', 1)[1].split("</svg>", 1)[0]
    (points,) = re.findall(r'<polyline[^>]* points="([^"]*)"', chart)
    return len(points.split())


@pytest.mark.parametrize(
    ("period", "points", "title"),
    [
        ("2026-08-01..2026-08-02", 24, "Hourly availability"),  # a day: by the hour
        ("2026-08-03..2026-08-10", 7, "Daily availability"),
        (QUARTER, 92, "Daily availability"),
    ],
)
def test_the_availability_chart_has_a_point_per_hour_or_day(
    database: Database, period: str, points: int, title: str
):
    build_quarter_history(database)
    svc = ReportService(database, Workflow(), "Asia/Shanghai", clock=lambda: NOW)
    report = svc.build("s1", period, "en")
    html = render_html(report, "en")
    assert f"<h4>{title}" in html
    assert _daily_chart_points(html) == points
    dots = html.split('<div class="chart">', 1)[1].split("</svg>", 1)[0].count("<circle")
    assert dots == (points if points <= 40 else 0)  # a single point is still seen


def _inventory_file(tmp_path: Path) -> Path:
    """The history's inventory as a file, with the report settings of site s1."""
    import yaml

    logo = tmp_path / "logos" / "school.png"
    logo.parent.mkdir()
    Image.new("RGB", (120, 60), (31, 95, 168)).save(logo)
    data = history_inventory().model_dump(mode="json", exclude_none=True)
    data["sites"][0]["report"] = {
        "logo": "logos/school.png",  # relative to the inventory file
        "customer_signer": "李校长",
        "integrator": "华南录播系统集成有限公司",
        "integrator_signer": "王工",
    }
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _pdf_text(pdf: bytes, name: str) -> tuple[str, Path, list[str]]:
    """The text as one line (for phrases), its path, and its lines in layout order (rows)."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: apt-get install poppler-utils"
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    layout = subprocess.run(
        [pdftotext, "-layout", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return re.sub(r"\s+", " ", text), path, layout.splitlines()


def test_the_signed_report_reads_right_in_chinese(database: Database, tmp_path: Path):
    build_quarter_history(database)
    # The agent of room 1 reports its CPU architecture where the PC's model belongs.
    message = InventoryMessage(
        agent="agent-1",
        seq=1,
        ts=NOW,
        agent_version="1.0",
        hostname="rec-101",
        devices=[DeviceInfo(device="host", kind="host", model="x86_64")],
    )
    with database.session() as session:
        ingest_store.apply_inventory_message(session, "r1", message)
    svc = ReportService(
        database,
        Workflow(),
        "Asia/Shanghai",
        clock=lambda: NOW,
        inventory_file=_inventory_file(tmp_path),
    )
    generated = svc.generate("s1", QUARTER, "zh-CN", "王工", archive=False)
    assert generated.pdf is not None
    flat, pdf_path, lines = _pdf_text(
        generated.pdf, f"signed-report-zh-CN-{database.engine.dialect.name}.pdf"
    )

    # "≥ 20 % free" items show the free share: 100 − used on the last day
    used_last_day = DISK_START + DISK_PER_DAY * (PERIOD.days - 1)  # 86.4 % used
    (disk_row,) = [
        line for line in lines if "录播主机磁盘剩余空间 ≥ 20 %" in line and "自动" in line
    ]
    assert f" {100 - used_last_day:.1f} %" in disk_row  # 13.6 %
    assert "未通过" in disk_row
    (storage_row,) = [
        line for line in lines if "录像存储剩余空间 ≥ 20 %" in line and "自动" in line
    ]
    assert " 60 %" in storage_row and "通过" in storage_row  # 40 % used
    # the spare table lists the inventory's models, never the CPU architecture
    assert "x86_64" not in flat
    spares = flat.split("六、备品备件", 2)[-1].split("七、厂商公告", 1)[0]
    assert "RS-8000" in spares and "录播主机" in spares and "摄像机" in spares
    # device kinds from the message catalogue, no English kind names ("host" is a device id)
    assert not re.search(r"\b(camera|switch|projector|encoder|recording PC)\b", flat)
    # the sign-off block with the configured names, blank lines for signature and date
    signoff = flat.split("十一、签字确认", 2)[-1]
    for text in (
        "用户单位代表",
        "服务单位代表",
        "李校长",
        "王工",
        "华南录播系统集成有限公司",
        "市教育局",
    ):
        assert text in signoff, text
    assert "签字" in signoff and "日期" in signoff
    # page numbers, and a table of contents (the report is longer than 5 pages)
    pages = int(re.findall(r"第 ?1 ?页 ?/ ?共 ?(\d+) ?页", flat)[0])
    assert pages > 5
    assert re.search(rf"第 ?{pages} ?页 ?/ ?共 ?{pages} ?页", flat)
    toc = flat.split("目录", 1)[1][:4000]
    assert re.search(r"十一、签字确认 ?\.+ ?" + str(pages), toc)  # the sign-off is on the last page
    # the logo is embedded as an image
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf_path)], capture_output=True, check=True, text=True
    ).stdout
    assert re.search(r"\b120\s+60\b", images), images


def test_a_short_report_has_no_contents_and_blank_lines_to_sign(database: Database):
    build_quarter_history(database)
    svc = ReportService(database, Workflow(), "Asia/Shanghai", clock=lambda: NOW)
    generated = svc.generate("s1", "2026-08-01..2026-08-02", "en", "wang", archive=False)
    assert generated.pdf is not None
    flat, _, _ = _pdf_text(generated.pdf, "short-report-en.pdf")
    pages = int(re.findall(r"Page 1 of (\d+)", flat)[0])
    assert pages <= 5 and "Contents" not in flat
    signoff = flat.split("11. Sign-off", 2)[-1]
    assert "For the customer" in signoff and "For the service provider" in signoff
    assert "市教育局" in signoff  # the customer of the inspection schedule
    assert "recording PC" in flat  # the kind's name, not "host"


def test_a_logo_that_is_missing_or_not_an_image_is_refused_with_file_and_key(tmp_path: Path):
    (tmp_path / "logo.png").write_text("not a picture", encoding="utf-8")
    for logo, expected in (("missing.png", "cannot read"), ("logo.png", "not a png image")):
        path = tmp_path / "inventory.yaml"
        path.write_text(
            f"sites:\n  - id: s1\n    name: School\n    report: {{logo: {logo}}}\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as caught:
            load_inventory(path)
        assert "inventory.yaml: sites.0.report.logo" in str(caught.value)
        assert expected in str(caught.value)
