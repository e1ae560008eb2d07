"""Work that may finish after the response has reached the client.

Settling a non-stream request (the exact charge and its log row) is one Redis round trip
the client has no need to wait for: it was ~0.19 ms of the relay's ~0.9 ms at one
connection (bench/RESULTS.md). The ASGI fast path (`oneproxy.asgi`) opens a scope per
request and runs the queued work once the response is sent, in the same request task:
the server's graceful shutdown waits for it as for any request, and a client hanging up
cannot cancel it. Without a scope (Django's test client, a management command) `defer`
runs the work at once, so callers see the same end state either way.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
_jobs: contextvars.ContextVar[list[Job] | None] = contextvars.ContextVar(
    "after_response_jobs", default=None)


def open_scope() -> tuple[contextvars.Token, list[Job]]:
    """Start collecting work for the current request (tasks created later inherit it)."""
    jobs: list[Job] = []
    return _jobs.set(jobs), jobs


def close_scope(token: contextvars.Token) -> None:
    _jobs.reset(token)


async def defer(job: Job) -> None:
    """Run `job` after the response is sent, or now when no scope is open."""
    jobs = _jobs.get()
    if jobs is None:
        await job()
    else:
        jobs.append(job)


async def run(jobs: list[Job]) -> None:
    """Run the queued work in order; a failure is logged and does not stop the rest
    (the client already has its answer)."""
    while jobs:
        job = jobs.pop(0)
        try:
            await job()
        except Exception:
            logger.exception("work after the response failed")
