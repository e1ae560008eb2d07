"""Cooled-down channels are retested by the relay's job (relay.tasks), through channels_app's
channel test; a passing channel test ends cooling wherever it was started from."""

import pytest

from channels_app import services
from conftest import make_channel
from core.redis import shared_client
from core.schedule import PERIODIC_JOBS
from relay import tasks
from relay.health import cooling
from relay.tests.test_health import _fresh_health  # noqa: F401 (autouse)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_retest_job_is_the_relays_and_registered_for_beat_and_the_embedded_scheduler():
    job = next(j for j in PERIODIC_JOBS if j.name == "channel-retests")
    assert job.task == "relay.tasks.retest_cooling"
    assert tasks.retest_cooling.name == job.task


def test_a_retest_that_passes_ends_cooling_and_one_that_fails_doubles_the_pause(
        fake_openai, settings):
    settings.HEALTH_COOLDOWN_SECONDS = 60
    good = make_channel("good", base_url=fake_openai.url)
    bad = make_channel("bad", base_url=fake_openai.url, models=("variant-500",))
    for channel in (good, bad):
        entry = cooling.start_cooling(channel.pk, "", "errors")
        cooling._put_local(channel.pk, "", cooling.Cooling(
            channel.pk, "", "errors", entry.since - 61, entry.since - 1, entry.expires, 1))
        if shared_client():
            cooling._write(channel.pk, "", cooling._cooling[(channel.pk, "")])
    assert tasks.retest_cooling.run() == 2
    assert not cooling.is_cooling(good.pk, "gpt-4o-mini")
    assert cooling.is_cooling(bad.pk, "variant-500")
    entry = cooling._cooling[(bad.pk, "")]
    assert entry.strikes == 2 and round(entry.retest_at - entry.since) == 120
    assert "retest failed" in entry.reason


def test_a_passing_channel_test_ends_a_cooling_period(fake_openai):
    channel = make_channel("up", base_url=fake_openai.url)
    cooling.start_cooling(channel.pk, "gpt-4o-mini", "errors")
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")
    services.test_channel(channel)
    assert not cooling.is_cooling(channel.pk, "gpt-4o-mini")
