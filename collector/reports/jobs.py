"""Report generation in the background: a large site's report takes minutes (1,000 rooms:
about 5, docs/performance.md), longer than an HTTP request should wait behind a proxy.

Jobs are rows of ``report_jobs`` (``collector.db.report_job_store``), so every member of a
collector group sees them and a restart keeps them. A job holds its request (the site,
period, language… or the archived report to regenerate), and whichever collector claims it
rebuilds the generation from that. ``ReportJobs`` runs one generation at a time on its own
daemon thread (they are CPU-bound; two at once would only share the cores): it claims the
oldest queued job, keeps it alive while it runs, and records the report or the failure.

A collector that dies mid-job stops keeping it alive; once ``alive_s`` has passed, any
collector queues it again (once) or fails it. A clean stop takes no new job and leaves the
queued ones for the next collector.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from roomwatch.collector.db import report_job_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.reports.errors import RenderError, ReportError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
ALIVE_S = 120.0  # a running job not kept alive for this long belongs to a dead collector
POLL_S = 2.0  # how often an idle worker looks for jobs queued by other collectors
WAIT_POLL_S = 0.5  # how often a waiting request looks whether another collector finished
KEEP_FINISHED = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
# Ids are token_hex(8); anything else (a NUL byte PostgreSQL refuses...) is no job's.
JOB_ID = re.compile(r"[0-9a-f]{16}")


class JobsStopped(Exception):
    """The collector is stopping: no new report is taken."""


@dataclass(frozen=True)
class ReportJob:
    """A job as read from SQL."""

    id: str
    what: dict[str, Any]  # the request: how to generate it again, and the job's site
    actor: str
    state: JobState
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report_id: int | None
    error: str | None
    error_status: int | None  # the HTTP status a failure is answered with
    attempts: int
    runner: str | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


Generate = Callable[[Mapping[str, Any], str], int]  # (request, actor) -> archived report id


class ReportJobs:
    """``generate`` turns a stored request into an archived report (``generate_from``)."""

    def __init__(
        self,
        db: Database,
        generate: Generate,
        clock: Callable[[], datetime] | None = None,
        *,
        alive_s: float = ALIVE_S,
        poll_s: float = POLL_S,
        runner: str | None = None,
    ) -> None:
        self.db = db
        self.generate = generate
        self.clock = clock or (lambda: datetime.now(UTC))
        self.alive_s = alive_s
        self.poll_s = poll_s
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._finished = threading.Condition()  # told when this collector finishes a job
        self._wake = threading.Event()
        self._closed = False
        self._worker: threading.Thread | None = None
        self._next_prune_s = 0.0
        self._failing = False

    # --- asking and reading ---------------------------------------------------------------

    def submit(self, what: Mapping[str, Any], actor: str) -> ReportJob:
        """Queue a generation of ``what`` on behalf of ``actor``."""
        with self._lock:
            if self._closed:
                raise JobsStopped("the collector is stopping: no new reports")
        job_id = secrets.token_hex(8)
        at = self.clock()
        job = self.db.transact(
            lambda session: _view(report_job_store.add(session, job_id, what, actor, at)),
            write=True,
        )
        self._wake.set()
        return job

    def get(self, job_id: str) -> ReportJob | None:
        if not JOB_ID.fullmatch(job_id):
            return None

        def read(session: Any) -> ReportJob | None:
            row = report_job_store.get(session, job_id)
            return _view(row) if row is not None else None

        return self.db.transact(read)

    def wait(self, job_id: str, seconds: float) -> ReportJob | None:
        """The job once finished (done or failed) within ``seconds``, else as it is then.
        Another collector of the group may run it: the row is read again every
        ``WAIT_POLL_S``, and at once when this collector finishes a job."""
        deadline = time.monotonic() + seconds
        while True:
            job = self.get(job_id)
            left_s = deadline - time.monotonic()
            if job is None or job.finished or left_s <= 0:
                return job
            with self._finished:
                self._finished.wait(min(left_s, WAIT_POLL_S))

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (the app does when it is served, so a collector also runs the
        jobs asked of other members of its group)."""
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(target=self._work, name="report", daemon=True)
                self._worker.start()

    def shutdown(self) -> None:
        """Take no new job; queued ones stay queued for the next collector. A running one
        ends with the process, and is queued again by another collector after ``alive_s``."""
        with self._lock:
            self._closed = True
        self._wake.set()

    def run_next(self) -> ReportJob | None:
        """Recover abandoned jobs, then claim and run the oldest queued one; the finished
        job, or None when nothing was queued."""
        now = self.clock()
        self._prune(now)
        if not self.db.transact(lambda session: report_job_store.has_work(session, now)):
            return None
        requeued, failed = self.db.transact(
            lambda session: report_job_store.recover_abandoned(session, now), write=True
        )
        for job_id in requeued:
            log.warning("report job %s: its collector stopped; queued again", job_id)
        for job_id in failed:
            log.error("report job %s: its collector stopped again; failed", job_id)
        claimed = self.db.transact(
            lambda session: _claimed(session, self.runner, now, self._deadline()), write=True
        )
        if claimed is None:
            return None
        self._run(claimed)
        return self.get(claimed.id)

    def _work(self) -> None:
        while not self._closed:
            try:
                ran = self.run_next()
                if self._failing:
                    log.info("report jobs: the database answers again")
                    self._failing = False
            except Exception as exc:  # the database is down: try again at the next poll
                if not self._failing:
                    log.error("report jobs: cannot read the queue: %s", exc)
                    self._failing = True
                ran = None
            if ran is None and not self._closed:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _run(self, job: ReportJob) -> None:
        stop = threading.Event()
        beat = threading.Thread(target=self._keep_alive, args=(job.id, stop), daemon=True)
        beat.start()
        outcome: dict[str, Any] = {}
        try:
            outcome["report_id"] = self.generate(job.what, job.actor)
        except Exception as exc:
            outcome["error"], outcome["error_status"] = _failure(job.id, exc)
        finally:
            stop.set()
            beat.join()
        at = self.clock()
        kept = self.db.transact(
            lambda session: report_job_store.finish(session, job.id, self.runner, at, **outcome),
            write=True,
        )
        if not kept:
            log.warning("report job %s was taken for dead while it ran", job.id)
        with self._finished:
            self._finished.notify_all()

    def _keep_alive(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.alive_s / 3):
            try:
                self.db.transact(
                    lambda session: report_job_store.keep_alive(
                        session, job_id, self.runner, self._deadline()
                    ),
                    write=True,
                )
            except Exception as exc:  # the next beat may get through before the deadline
                log.warning("report job %s: cannot keep it alive: %s", job_id, exc)

    def _deadline(self) -> datetime:
        return self.clock() + timedelta(seconds=self.alive_s)

    def _prune(self, now: datetime) -> None:
        if time.monotonic() < self._next_prune_s:
            return
        self._next_prune_s = time.monotonic() + PRUNE_EVERY_S
        self.db.transact(
            lambda session: report_job_store.prune(session, now - KEEP_FINISHED), write=True
        )


def generate_from(service_of: Callable[[], Any]) -> Generate:
    """A ``Generate`` that rebuilds the generation from the stored request with the
    ``ReportService`` that ``service_of`` gives at that moment."""

    def generate(what: Mapping[str, Any], actor: str) -> int:
        service = service_of()
        if "regenerate" in what:
            return int(service.regenerate(int(what["regenerate"]), actor).archived_id or 0)
        generated = service.generate(
            str(what["site"]),
            str(what["period"]),
            str(what.get("lang", "zh-CN")),
            actor,
            pdf=bool(what.get("pdf", True)),
            devices=what.get("devices", "auto"),
        )
        return int(generated.archived_id or 0)

    return generate


def _failure(job_id: str, exc: Exception) -> tuple[str, int]:
    """The reason a job failed and the HTTP status it is answered with."""
    if isinstance(exc, RenderError):
        return str(exc), 503
    if isinstance(exc, ReportError):
        return str(exc), 422  # what the user asked is wrong
    if isinstance(exc, NotFoundError):
        return str(exc), 404  # e.g. the site or report was deleted meanwhile
    log.exception("report job %s failed", job_id)
    return f"report generation failed: {type(exc).__name__}: {exc}", 500


def _claimed(session: Any, runner: str, at: datetime, alive_until: datetime) -> ReportJob | None:
    row = report_job_store.claim(session, runner, at, alive_until)
    return _view(row) if row is not None else None


def _view(row: Any) -> ReportJob:
    return ReportJob(
        id=row.id,
        what=dict(row.what),
        actor=row.actor,
        state=row.state,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        report_id=row.report_id,
        error=row.error,
        error_status=row.error_status,
        attempts=row.attempts or 0,
        runner=row.runner,
    )
