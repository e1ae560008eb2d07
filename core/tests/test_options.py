"""Runtime options access: values through the registered loader, cached per version."""

import pytest

from core import cachebus, options

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counting_loader():
    calls = []

    def load():
        calls.append(1)
        return {"retry_times": len(calls)}

    before = options._loader
    options.register_loader(load)
    yield calls
    options.register_loader(before)


def test_options_are_loaded_once_until_the_options_topic_moves(counting_loader):
    assert options.get("retry_times") == options.get("retry_times") == 1
    cachebus.bump("options")
    assert options.get("retry_times") == 2
    assert len(counting_loader) == 2


def test_without_a_loader_reading_an_option_says_so(counting_loader):
    options.register_loader(None)
    with pytest.raises(RuntimeError, match="no runtime options loader"):
        options.get("retry_times")
