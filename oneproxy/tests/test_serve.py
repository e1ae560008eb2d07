import pytest
from django.core.management import CommandError, call_command

from oneproxy.management.commands.serve import default_workers


def test_embedded_mode_serves_with_one_worker(settings):
    settings.EMBEDDED_MODE = True
    settings.WEB_CONCURRENCY = 8
    assert default_workers() == 1


def test_with_redis_the_worker_count_follows_web_concurrency(settings):
    settings.EMBEDDED_MODE = False
    settings.WEB_CONCURRENCY = 3
    assert default_workers() == 3


def test_several_workers_are_refused_without_redis(settings):
    settings.EMBEDDED_MODE = True
    with pytest.raises(CommandError, match="one worker"):
        call_command("serve", "--workers", "2")
