"""Quarterly inspection reports (巡检报告): running parameters from the hourly rollups,
faults with their SLA clocks and maintenance logs, hidden hazards, spare stock, vendor
advisories and the next period's goals, rendered as HTML and PDF in zh-CN and English.

``ReportService`` generates and archives reports; ``build.build_report`` gathers the data;
``render`` turns it into HTML and PDF. See docs/reports.md.
"""
