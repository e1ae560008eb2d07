"""The relay's health tells channels_app what it saw through core.signals only (a rejected
key, a cooling start or end); channels_app's receivers disable keys, log and notify."""

import pytest
from asgiref.sync import sync_to_async

from billing.models import Log
from channels_app.models import KeyStatus
from conftest import make_channel
from core import signals
from relay.health import cooling, report
from relay.tests.test_health import _fresh_health, set_options  # noqa: F401 (autouse)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """Every key_rejected and cooling_changed sent during the test, as (signal, kwargs)."""
    calls = []

    def spy(sender, signal, **kwargs):
        calls.append((signal, kwargs))

    for sig in (signals.key_rejected, signals.cooling_changed):
        sig.connect(spy, dispatch_uid="test-spy")
    yield calls
    for sig in (signals.key_rejected, signals.cooling_changed):
        sig.disconnect(dispatch_uid="test-spy")


async def test_a_rejected_key_is_reported_on_core_signals_and_channels_app_disables_it(heard):
    channel = await sync_to_async(make_channel)("signal-key", keys=2)
    key = await channel.keys.afirst()
    await report.report(channel.pk, key.pk, "gpt-4o-mini", ok=False, status=401,
                        message="Incorrect API key provided", key_invalid=True)
    [(signal, kwargs)] = heard
    assert signal is signals.key_rejected and kwargs["key_id"] == key.pk
    assert "Incorrect API key" in kwargs["reason"]
    await sync_to_async(key.refresh_from_db)()
    assert key.status == KeyStatus.AUTO_DISABLED


async def test_a_rejected_key_nobody_takes_out_of_service_counts_as_an_error():
    channel = await sync_to_async(make_channel)("no-receiver")
    key = await channel.keys.afirst()
    await sync_to_async(set_options)(auto_disable_min_requests=1, auto_disable_error_rate=0.5)
    signals.key_rejected.disconnect(dispatch_uid="channels_app.disable_rejected_key")
    try:
        await report.report(channel.pk, key.pk, "gpt-4o-mini", ok=False, status=401,
                            key_invalid=True)
    finally:
        from channels_app import receivers

        signals.key_rejected.connect(receivers.disable_rejected_key,
                                     dispatch_uid="channels_app.disable_rejected_key")
    await sync_to_async(key.refresh_from_db)()
    assert key.status == KeyStatus.ENABLED  # the relay wrote nothing itself
    assert cooling.is_cooling(channel.pk, "gpt-4o-mini")


def test_cooling_starts_and_ends_are_reported_on_core_signals_and_logged(heard):
    channel = make_channel("signal-cool")
    cooling.start_cooling(channel.pk, "gpt-4o-mini", "too many errors")
    cooling.end_cooling(channel.pk, "gpt-4o-mini")
    assert [(s, kw) for s, kw in heard] == [
        (signals.cooling_changed, {"channel_id": channel.pk, "model": "gpt-4o-mini",
                                   "reason": "too many errors", "started": True}),
        (signals.cooling_changed, {"channel_id": channel.pk, "model": "gpt-4o-mini",
                                   "reason": "too many errors", "started": False}),
    ]
    contents = list(Log.objects.filter(channel=channel).values_list("content", flat=True))
    assert any("cooling down (model gpt-4o-mini)" in c for c in contents)
    assert any("recovered (model gpt-4o-mini)" in c for c in contents)
