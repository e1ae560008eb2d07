"""Channel.type is the registry's provider id, and Django's system check guards the
registry at start-up."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from channels_app.models import Channel
from providers import registry
from providers.base import ProviderInfo


def test_channel_type_choices_are_the_registry_providers_in_its_order():
    assert Channel._meta.get_field("type").choices == registry.PROVIDER_CHOICES


def test_the_system_check_passes_on_the_shipped_registry():
    assert [e.id for e in run_checks() if e.id == "channels_app.E001"] == []


def test_the_system_check_fails_on_an_entry_that_will_not_import(monkeypatch):
    broken = ProviderInfo("broken", "Broken", "providers.nope.NopeAdaptor")
    monkeypatch.setattr(registry, "PROVIDERS", (*registry.PROVIDERS, broken))
    errors = [e for e in run_checks() if e.id == "channels_app.E001"]
    assert len(errors) == 1 and "providers.nope.NopeAdaptor" in errors[0].msg
    assert errors[0].is_serious()


@pytest.mark.django_db
def test_a_channel_of_an_unregistered_type_fails_validation():
    from django.core.exceptions import ValidationError

    channel = Channel(type="nope", name="x", model_names=["m"])
    with pytest.raises(ValidationError) as caught:
        channel.full_clean()
    assert "type" in caught.value.message_dict
