"""In-process runner for the periodic jobs when there is no Redis (embedded mode).

A single daemon thread runs each job of core.schedule on its interval. With several
server workers on one machine, a file lock under DATA_DIR lets exactly one of them run the
jobs, so a flush or a channel test never runs twice at once.
"""

import fcntl
import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

from core import schedule

logger = logging.getLogger(__name__)


class EmbeddedScheduler:
    def __init__(self, jobs, tick: float = 0.5):
        self.jobs = list(jobs)
        self.tick = tick
        self._stop = threading.Event()
        self._thread = None
        self._next_run = {}

    def start(self) -> None:
        now = time.monotonic()
        self._next_run = {job.name: now + job.interval for job in self.jobs}
        self._thread = threading.Thread(target=self._loop, name="oneproxy-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def run_due(self, now: float) -> None:
        """Run every job whose time has come; a failing job is logged and retried later."""
        for job in self.jobs:
            if now < self._next_run[job.name]:
                continue
            self._next_run[job.name] = now + job.interval
            self.run_job(job)

    @staticmethod
    def run_job(job) -> None:
        close_old_connections()
        try:
            import_string(job.task).run()
        except Exception:
            logger.exception("embedded job failed", extra={"job": job.name})
        finally:
            close_old_connections()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.run_due(time.monotonic())


_scheduler: EmbeddedScheduler | None = None
_lock_file = None


def _acquire_process_lock() -> bool:
    global _lock_file
    _lock_file = open(settings.DATA_DIR / "embedded-jobs.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        _lock_file.close()
        _lock_file = None
        return False
    return True


def start() -> None:
    """Start the in-process jobs if this is embedded mode and no sibling worker runs them."""
    global _scheduler
    if not (settings.EMBEDDED_MODE and settings.RUN_EMBEDDED_JOBS) or _scheduler:
        return
    if not _acquire_process_lock():
        logger.info("embedded jobs already run by another worker")
        return
    _scheduler = EmbeddedScheduler(schedule.PERIODIC_JOBS)
    _scheduler.start()
    logger.info("embedded jobs started", extra={"jobs": [j.name for j in _scheduler.jobs]})


def stop() -> None:
    global _scheduler, _lock_file
    if _scheduler:
        _scheduler.stop()
        _scheduler = None
    if _lock_file:
        _lock_file.close()
        _lock_file = None
