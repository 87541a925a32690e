"""``roomwatch report``: generate an inspection report from the command line, or list the
inspections that are due.

    roomwatch report --config collector.yaml --site S --quarter 2026Q3 --lang zh-CN --out r.pdf
    roomwatch report --config collector.yaml --due
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import date
from pathlib import Path

_DESCRIPTION = """\
Generate an inspection report from the command line, or list the inspections that are due.

    roomwatch report --config collector.yaml --site S --quarter 2026Q3 --lang zh-CN --out r.pdf
    roomwatch report --config collector.yaml --due
"""


def add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="generate an inspection report (PDF/HTML), or list due inspections",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, type=Path, help="the collector's config")
    parser.add_argument("--site", help="site id (from the inventory)")
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--quarter", help="e.g. 2026Q3")
    period.add_argument("--period", help="2026-07, or 2026-07-01..2026-10-01 (end exclusive)")
    parser.add_argument(
        "--lang", choices=["zh-CN", "en"], default="zh-CN", help="language (default zh-CN)"
    )
    parser.add_argument("--out", type=Path, help="file to write: .pdf or .html")
    parser.add_argument(
        "--devices",
        choices=["auto", "all", "exceptions"],
        default="auto",
        help="list every device, or only those with low availability, faults or hazards "
        "(auto: all up to 300 devices)",
    )
    parser.add_argument("--no-archive", action="store_true", help="do not keep it in SQL")
    parser.add_argument("--by", default=None, help="engineer's name (default: login name)")
    parser.add_argument("--due", action="store_true", help="list due inspections and exit")
    parser.add_argument("--on", type=date.fromisoformat, default=None, help="date for --due")


def run_report(args: argparse.Namespace) -> int:
    from roomwatch.agent.errors import ConfigError
    from roomwatch.collector.config import load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(str(exc))
    if not args.due:
        problem = _missing(args)
        if problem:
            return _fail(problem)
    from roomwatch.collector.db.session import open_database
    from roomwatch.collector.errors import CollectorError
    from roomwatch.collector.reports.errors import RenderError
    from roomwatch.collector.reports.service import ReportService
    from roomwatch.collector.workflow import Workflow, load_hooks

    db = open_database(config.database.url)
    try:
        service = ReportService(
            db, Workflow(hooks=load_hooks()), config.timezone, inventory_file=config.inventory_file
        )
        if args.due:
            for due in service.due(args.on):
                late = (
                    f"{due.days_overdue} days overdue"
                    if due.days_overdue > 0
                    else (
                        f"due in {-due.days_overdue} days" if due.days_overdue < 0 else "due today"
                    )
                )
                print(f"{due.site_id}\t{due.period_label}\t{late}\t{due.site_name}")
            return 0
        out: Path = args.out
        pdf = out.suffix.lower() == ".pdf"
        generated = service.generate(
            args.site,
            args.quarter or args.period,
            args.lang,
            args.by or getpass.getuser(),
            pdf=pdf,
            archive=not args.no_archive,
            devices=args.devices,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        if pdf:
            assert generated.pdf is not None
            out.write_bytes(generated.pdf)
        else:
            out.write_text(generated.html, encoding="utf-8")
        archived = f" (archived as #{generated.archived_id})" if generated.archived_id else ""
        print(f"{out}: {generated.report.period.label} {args.site} {args.lang}{archived}")
        return 0
    except RenderError as exc:
        print(f"roomwatch report: {exc}", file=sys.stderr)
        return 1
    except CollectorError as exc:
        return _fail(str(exc))
    finally:
        db.dispose()


def _missing(args: argparse.Namespace) -> str | None:
    if not args.site:
        return "--site is required"
    if not (args.quarter or args.period):
        return "--quarter or --period is required"
    if args.out is None:
        return "--out is required (a .pdf or .html file)"
    if args.out.suffix.lower() not in (".pdf", ".html", ".htm"):
        return f"--out {args.out}: the name must end in .pdf or .html"
    return None


def _fail(message: str) -> int:
    print(f"roomwatch report: {message}", file=sys.stderr)
    return 2
