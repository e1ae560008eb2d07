"""Billing's option rows reach core.options, typed by their spec."""

import pytest

from billing import option_specs
from billing.models import Option
from core import cachebus, options

pytestmark = pytest.mark.django_db(transaction=True)


def test_billing_registers_its_loader_when_the_app_is_ready():
    assert options._loader is option_specs.load_all


def test_values_have_the_type_of_their_option():
    Option.objects.create(key="retry_times", value="4")
    cachebus.bump("options")
    assert options.get("retry_times") == 4
    assert options.get("display_in_usd") is True
