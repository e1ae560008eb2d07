"""Runtime options access: typed values through billing's loader, cached per version."""

import pytest

from billing import options as billing_options
from billing.models import Option
from core import cachebus, options

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counting_loader():
    calls = []

    def load():
        calls.append(1)
        return {"retry_times": len(calls)}

    options.register_loader(load)
    yield calls
    options.register_loader(billing_options.load_all)


def test_billing_registers_its_loader_when_the_app_is_ready():
    assert options._loader is billing_options.load_all


def test_values_have_the_type_of_their_option():
    Option.objects.create(key="retry_times", value="4")
    cachebus.bump("options")
    assert options.get("retry_times") == 4
    assert options.get("display_in_usd") is True


def test_options_are_loaded_once_until_the_options_topic_moves(counting_loader):
    assert options.get("retry_times") == options.get("retry_times") == 1
    cachebus.bump("options")
    assert options.get("retry_times") == 2
    assert len(counting_loader) == 2
