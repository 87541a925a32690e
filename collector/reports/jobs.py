"""Report generation in the background: a large site's report takes minutes (1,000 rooms:
about 5, docs/performance.md), longer than an HTTP request should wait behind a proxy.

``ReportJobs`` runs one generation at a time on its own daemon thread (they are CPU-bound;
two at once would only share the cores) and remembers the last ``keep`` jobs in memory: a
restart forgets queued and running jobs, which then never reach the archive (the caller sees
404 for the job and generates again), and does not wait for them. What a finished job
produced is in the archive like any other report.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from collector.errors import CollectorError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]


class JobsStopped(Exception):
    """The collector is stopping: no new report is taken."""


KEEP = 200


@dataclass
class ReportJob:
    id: str
    what: dict[str, object]  # the request's parameters, for the job's status
    actor: str
    created_at: datetime
    state: JobState = "queued"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    report_id: int | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    future: Future[int] | None = field(default=None, repr=False)


class ReportJobs:
    def __init__(self, keep: int = KEEP, clock: Callable[[], datetime] | None = None) -> None:
        self.keep = keep
        self.clock = clock or (lambda: datetime.now(UTC))
        self._jobs: OrderedDict[str, ReportJob] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, what: dict[str, object], actor: str, generate: Callable[[], int]) -> ReportJob:
        """Queue ``generate`` (which returns the archived report's id)."""
        job = ReportJob(secrets.token_hex(8), what, actor, self.clock())

        def run() -> int:
            job.state, job.started_at = "running", self.clock()
            report_id = 0
            try:
                report_id = job.report_id = generate()
            except CollectorError as exc:
                job.error, job.exception = str(exc), exc  # what the user asked is wrong
                raise
            except Exception as exc:
                log.exception("report job %s failed", job.id)
                job.error = f"report generation failed: {type(exc).__name__}: {exc}"
                job.exception = exc
                raise
            finally:
                job.finished_at = self.clock()
                job.state = "failed" if job.error is not None else "done"
            return report_id

        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                oldest = next(iter(self._jobs.values()))
                if oldest.state in ("queued", "running"):
                    break  # never forget unfinished work
                del self._jobs[oldest.id]
        future: Future[int] = Future()
        job.future = future

        def task() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(run())
            except BaseException as exc:  # recorded on the job; the caller reads it there
                future.set_exception(exc)

        with self._lock:
            if self._closed:
                raise JobsStopped("the collector is stopping: no new reports")
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="report", daemon=True)
                self._worker.start()
        self._queue.put(task)
        return job

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            task()

    def wait(self, job: ReportJob, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job; whether it has finished (done or failed)."""
        assert job.future is not None
        try:
            job.future.result(timeout=seconds)
        except FutureTimeout:
            return False
        except Exception:  # recorded on the job
            return True
        return True

    def get(self, job_id: str) -> ReportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Take no new jobs and drop the queued ones; a running one ends with the process."""
        with self._lock:
            self._closed = True
            queued = [job for job in self._jobs.values() if job.state == "queued"]
        for job in queued:
            if job.future is not None:
                job.future.cancel()
        self._queue.put(None)
