import pytest

from core import lifecycle
from core.schedule import PeriodicJob
from oneproxy.embedded import EmbeddedScheduler

CALLS = []


class _Task:
    @staticmethod
    def run():
        CALLS.append("ran")


class _FailingTask:
    @staticmethod
    def run():
        raise RuntimeError("boom")


@pytest.mark.django_db
def test_the_scheduler_runs_a_job_only_when_its_interval_has_passed(settings):
    settings.TEST_JOB_INTERVAL = 5
    CALLS.clear()
    job = PeriodicJob("t", "oneproxy.tests.test_embedded._Task", "TEST_JOB_INTERVAL")
    scheduler = EmbeddedScheduler([job])
    scheduler._next_run = {"t": 100.0}
    scheduler.run_due(99.0)
    assert CALLS == []
    scheduler.run_due(100.0)
    scheduler.run_due(101.0)
    assert CALLS == ["ran"]
    scheduler.run_due(105.0)
    assert CALLS == ["ran", "ran"]


@pytest.mark.django_db
def test_a_failing_job_is_logged_and_does_not_stop_the_others(settings, caplog):
    settings.TEST_JOB_INTERVAL = 1
    CALLS.clear()
    jobs = [
        PeriodicJob("bad", "oneproxy.tests.test_embedded._FailingTask", "TEST_JOB_INTERVAL"),
        PeriodicJob("good", "oneproxy.tests.test_embedded._Task", "TEST_JOB_INTERVAL"),
    ]
    scheduler = EmbeddedScheduler(jobs)
    scheduler._next_run = {"bad": 0.0, "good": 0.0}
    scheduler.run_due(1.0)
    assert CALLS == ["ran"]
    assert "embedded job failed" in caplog.text


@pytest.mark.asyncio
async def test_lifespan_runs_startup_hooks_then_shutdown_hooks_in_reverse():
    order = []
    first = lifecycle.on_startup(lambda: order.append("start"))

    async def closing():
        order.append("close-async")

    lifecycle.on_shutdown(lambda: order.append("close-sync"))
    lifecycle.on_shutdown(closing)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    try:
        await lifecycle.serve_lifespan(receive, send)
    finally:
        lifecycle._startup.remove(first)
        del lifecycle._shutdown[-2:]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert order[0] == "start" and order[-2:] == ["close-async", "close-sync"]
