"""Where background work runs: Celery when REDIS_URL is set, threads in embedded mode.

In embedded mode Celery runs tasks eagerly in the caller's thread; `submit` moves such
work to a small thread pool instead, and `fan_out` bounds how many run at once. Both run
`task.run`, i.e. the same function a Celery worker would.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager

from django.db import close_old_connections

from core.backend import tasks_in_process
from core.redis import shared_client

logger = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pending: set[Future] = set()
_lock = threading.Lock()


def _background() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="oneproxy-bg")
        return _pool


def run_here(task, *args, own_thread: bool = True):
    """Run a task's body in this thread; errors are logged, not raised (a background job
    has nobody to raise to). In a worker thread (`own_thread`) database connections are
    fresh before and closed after, as between requests."""
    if own_thread:
        close_old_connections()
    try:
        return task.run(*args)
    except Exception:  # noqa: BLE001
        logger.exception("background job failed", extra={"task": task.name})
        return None
    finally:
        if own_thread:
            close_old_connections()


def submit(task, *args) -> None:
    """Run `task(*args)` in the background, never in the caller's thread."""
    if not tasks_in_process():
        task.delay(*args)
        return
    future = _background().submit(run_here, task, *args)
    with _lock:
        _pending.add(future)
    future.add_done_callback(lambda f: _pending.discard(f))


def fan_out(task, arg_lists: list[tuple], limit: int) -> int:
    """One task per argument tuple, at most `limit` at a time; returns how many.

    With Celery each becomes a message (the task itself takes one of `limit` slots, see
    tasks.test_channel_task); in embedded mode a pool of `limit` threads runs them and
    this call returns when all have finished.
    """
    if not tasks_in_process():
        for args in arg_lists:
            task.delay(*args)
        return len(arg_lists)
    if limit <= 1 or len(arg_lists) <= 1:
        for args in arg_lists:
            run_here(task, *args, own_thread=False)
        return len(arg_lists)
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="oneproxy-fan") as pool:
        list(pool.map(lambda args: run_here(task, *args), arg_lists))
    return len(arg_lists)


def wait_idle(timeout: float = 10.0) -> None:
    """Wait for the work `submit` started in this process (tests, graceful shutdown)."""
    with _lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)


# KEYS[1]: a sorted set of lease holders. ARGV: now, limit, lease seconds, holder id.
# Leases of crashed workers fall out after `lease` seconds, so a slot is never lost.
_ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  return 1
end
return 0
"""
SLOT_PREFIX = "oneproxy:slots:"


@contextmanager
def slot(name: str, limit: int, lease: float) -> Iterator[bool]:
    """Take one of `limit` slots named `name` across all Celery workers; yields whether
    it got one. Without Redis (embedded) the caller's thread pool is the bound: True."""
    client = shared_client()
    if client is None:
        yield True
        return
    holder = uuid.uuid4().hex
    key = SLOT_PREFIX + name
    got = bool(client.eval(_ACQUIRE_LUA, 1, key, time.time(), max(1, limit), lease, holder))
    try:
        yield got
    finally:
        if got:
            client.zrem(key, holder)


def slots_in_use(name: str) -> int:
    client = shared_client()
    return 0 if client is None else int(client.zcard(SLOT_PREFIX + name))
