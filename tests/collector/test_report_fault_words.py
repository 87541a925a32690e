"""The report's fault tables speak the report's language: the rules' titles filled from
each fault, never a raw rule id ("device_unreachable ×3") — in the HTML and in the PDF
as a customer reads it (pdftotext)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from roomwatch.collector.db.session import Database
from tests.collector.test_report import (  # noqa: F401  (history is a fixture)
    QUARTER,
    ROOM_ZH,
    history,
    service,
)

RULE_IDS = ("device_unreachable", "agent_offline", "disk_filling")


def _pdf_text(pdf: bytes, tmp_path) -> str:  # type: ignore[no-untyped-def]
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: apt-get install poppler-utils"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return re.sub(r"\s+", " ", text)


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize(
    ("lang", "camera_down"),
    [("zh-CN", f"{ROOM_ZH} 的 cam2 无法访问"), ("en", f"cam2 unreachable in {ROOM_ZH}")],
)
def test_fault_tables_use_the_reports_language_and_no_rule_ids(
    database: Database, lang: str, camera_down: str, tmp_path
):
    generated = service(database).generate("s1", QUARTER, lang, "王工")
    html_text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", generated.html))
    assert camera_down in html_text
    assert f"{camera_down} ×3" in html_text  # the repeated-faults hazard names the rule
    for rule_id in RULE_IDS:
        assert rule_id not in html_text, rule_id
    assert generated.pdf is not None
    pdf_text = _pdf_text(generated.pdf, tmp_path)
    assert "cam2" in pdf_text and not any(rule_id in pdf_text for rule_id in RULE_IDS)
    if lang == "zh-CN":
        assert "cam2 unreachable" not in html_text
