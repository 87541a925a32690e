"""Rendering a report PDF adds no INFO lines of the PDF libraries to the collector's log,
and leaves the log level of everything else alone."""

from __future__ import annotations

import logging

import pytest

from roomwatch.collector.reports.render import render_pdf

HTML = """<html><head><style>body { font-family: "Noto Sans CJK SC", sans-serif; }</style>
</head><body><h1>巡检报告 — Room 101</h1><p>可用率 99.9 %</p></body></html>"""


def test_a_pdf_leaves_no_library_info_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("collector.test").info("the collector's own INFO line")

    pdf = render_pdf(HTML)

    assert pdf.startswith(b"%PDF")
    library = [r for r in caplog.records if r.name.split(".")[0] in ("weasyprint", "fontTools")]
    assert [f"{r.name}: {r.getMessage()}" for r in library if r.levelno < logging.WARNING] == []
    assert any(r.name == "collector.test" for r in caplog.records)
    assert logging.getLogger().getEffectiveLevel() == logging.INFO
    assert logging.getLogger("weasyprint").isEnabledFor(logging.WARNING)
