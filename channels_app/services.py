"""Channel workflows called alike by the admin, the API, the jobs and (through
core.signals, see receivers.py) the relay."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core import cachebus
from providers.spec import ChannelSpec
from providers.spec import channel_spec as build_channel_spec

from .models import Ability, Channel, ChannelKey, ChannelStatus, KeyStatus

logger = logging.getLogger(__name__)


def rebuild_routing(channel: Channel) -> None:
    """Make the routing index rows of `channel` exact: one per (group, model) it serves
    while it is enabled and has at least one enabled key, none otherwise."""
    with transaction.atomic():
        Ability.objects.filter(channel=channel).delete()
        if channel.pk and channel.is_routable() and _has_enabled_key(channel):
            Ability.objects.bulk_create(
                Ability(
                    group=group,
                    model=model,
                    channel=channel,
                    priority=channel.priority,
                    weight=channel.weight,
                )
                for group in channel.groups.all()
                for model in sorted(channel.served_models())
            )
        cachebus.bump("routing")


def _has_enabled_key(channel: Channel) -> bool:
    return channel.keys.filter(status=KeyStatus.ENABLED).exists()


class ChannelError(Exception):
    """A channel workflow could not run: the message is safe to show to the operator."""


# ---- status changes -----------------------------------------------------------------------
def _transition(row, choices, status: str, reason: str, *, automatic: bool) -> bool:
    """Compare-and-set `row.status` (a Channel or ChannelKey) with reason and time, in the
    database and on `row`; False when it already had `status`, or when an automatic change
    meets a manually disabled row."""
    if status not in choices.values:
        raise ChannelError(f"unknown status {status!r}")
    now = timezone.now()
    rows = type(row).objects.filter(pk=row.pk).exclude(status=status)
    if automatic:
        rows = rows.exclude(status=choices.DISABLED)
    if not rows.update(status=status, status_reason=reason[:500], status_changed_at=now):
        return False
    row.status, row.status_reason, row.status_changed_at = status, reason, now
    return True


def set_channel_status(channel: Channel, status: str, reason: str, *,
                       automatic: bool = False) -> bool:
    """Move `channel` to `status` with `reason`; returns False when nothing changed.

    Stores reason and time, rebuilds routing (every process sees it on its next request),
    writes a SYSTEM log row and notifies the operator. With `automatic` (health checks,
    tests) a manually disabled channel is left alone: only people re-enable those.
    """
    with transaction.atomic():
        if not _transition(channel, ChannelStatus, status, reason, automatic=automatic):
            return False
        rebuild_routing(channel)
        label = ChannelStatus(status).label
        _event(channel.pk, f"channel {channel.name} is now {label}", reason, "channel_status")
    return True


def set_key_status(key: ChannelKey, status: str, reason: str, *,
                   automatic: bool = False) -> bool:
    """Move `key` to `status` with `reason`; returns False when nothing changed.

    Rebuilds the channel's routing (a channel without an enabled key serves nothing), logs
    and notifies. An automatic disable of the last enabled key also marks the channel
    auto-disabled, so the admin says why it stopped serving; `automatic` never touches a
    manually disabled key.
    """
    with transaction.atomic():
        if not _transition(key, KeyStatus, status, reason, automatic=automatic):
            return False
        channel = Channel.objects.get(pk=key.channel_id)
        rebuild_routing(channel)
        label = KeyStatus(status).label
        _event(channel.pk, f"key {key.masked()} of channel {channel.name} is now {label}",
               reason, "key_status")
        if automatic and status != KeyStatus.ENABLED and not _has_enabled_key(channel):
            set_channel_status(channel, ChannelStatus.AUTO_DISABLED,
                               f"no usable key left: {reason}", automatic=True)
    return True


def auto_disable_key(key_id: int, reason: str) -> bool:
    """Disable a key upstream called invalid, out of credit or deactivated (relay path).
    Returns True when the key is (now) out of service; False when the option
    auto_disable_enabled is off or the key is gone."""
    from core import options

    if not options.get("auto_disable_enabled"):
        return False
    key = ChannelKey.objects.filter(pk=key_id).first()
    if key is None:
        return False
    set_key_status(key, KeyStatus.AUTO_DISABLED, reason, automatic=True)
    return True


def _event(channel_id: int | None, title: str, detail: str, event: str) -> None:
    """SYSTEM log row now; operator notification once the transaction commits."""
    from billing.models import Log, LogType

    Log.objects.create(type=LogType.SYSTEM, channel_id=channel_id,
                       content=f"{title}: {detail}"[:2000])
    logger.info(title, extra={"channel_id": channel_id, "reason": detail})
    transaction.on_commit(lambda: notify(event, title, detail, channel_id))


def record_health_event(channel_id: int, model: str, reason: str, *, started: bool) -> None:
    """Log and notify the start or end of a cooling period of `channel_id` (of `model` on
    it, or of the whole channel when `model` is "")."""
    scope = f"model {model}" if model else "all models"
    name = Channel.objects.filter(pk=channel_id).values_list("name", flat=True).first()
    title = (f"channel {name or channel_id} cooling down ({scope})" if started
             else f"channel {name or channel_id} recovered ({scope})")
    detail = reason if started else "passed a test after cooling down"
    _event(channel_id if name else None, title, detail,
           "cooling_started" if started else "cooling_ended")


# ---- tests --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChannelTestResult:
    """Outcome of one channel test. `keys` holds one upstream.KeyTestResult per tested key;
    `response_ms` is the fastest passing key's (or the slowest failure's) latency."""

    channel_id: int
    model: str
    ok: bool
    response_ms: int
    error: str
    keys: tuple
    status: str  # the channel's status after the test


def channel_spec(channel: Channel, key: ChannelKey) -> ChannelSpec:
    """The frozen `ChannelSpec` adaptors take for `channel` used with `key` (built by
    providers' one constructor, as the relay's routing table builds its own)."""
    return build_channel_spec(channel.pk, channel.type, channel.base_url, key.key,
                              config=channel.config, model_mapping=channel.model_mapping)


def test_channel(channel: Channel, *, model: str | None = None) -> ChannelTestResult:
    """Send a small chat request (option test_prompt) through every key of `channel` that
    is not manually disabled, with `model`, else the channel's test model, else its first.

    Records time, latency and error on the channel and each key. Then: a dead key is
    auto-disabled, an auto-disabled key that passed comes back; an auto-disabled channel
    that passed comes back (option auto_enable_enabled), an enabled one slower than option
    channel_disable_latency_ms is auto-disabled; a passing test ends any cooling period.
    A manually disabled channel or key is never changed. Raises ChannelError when there
    is no model to test. Sync: call it from jobs, admin actions or through sync_to_async.
    """
    from core import options, signals

    from . import upstream

    model = model or channel.test_model or next(iter(channel.model_names or []), "")
    if not model:
        raise ChannelError(f"channel {channel.name} lists no model to test")
    keys = list(channel.keys.exclude(status=KeyStatus.DISABLED))
    specs = [(key.pk, channel_spec(channel, key)) for key in keys]
    results = upstream.run(upstream.probe_keys(specs, model, options.get("test_prompt")))
    _record_key_results(keys, results)
    outcome = _summarise(channel, model, results)
    Channel.objects.filter(pk=channel.pk).update(tested_at=timezone.now(),
                                                 response_ms=outcome.response_ms)
    _apply_outcome(channel, outcome, options.get_options())
    if outcome.ok:  # cooling is the relay's: it hears this and ends the pause
        signals.channel_passed_test.send(sender=Channel, channel_id=channel.pk, model=model)
    channel.refresh_from_db()
    return _with_status(outcome, channel.status)


def _summarise(channel: Channel, model: str, results) -> ChannelTestResult:
    passed = [r for r in results if r.ok]
    if not results:
        return ChannelTestResult(channel.pk, model, False, 0, "no key to test", (),
                                 channel.status)
    if passed:
        return ChannelTestResult(channel.pk, model, True, min(r.response_ms for r in passed),
                                 "", tuple(results), channel.status)
    worst = max(results, key=lambda r: r.response_ms)
    return ChannelTestResult(channel.pk, model, False, worst.response_ms, worst.error,
                             tuple(results), channel.status)


def _with_status(outcome: ChannelTestResult, status: str) -> ChannelTestResult:
    return ChannelTestResult(outcome.channel_id, outcome.model, outcome.ok,
                             outcome.response_ms, outcome.error, outcome.keys, status)


def _record_key_results(keys, results) -> None:
    from core import options

    now = timezone.now()
    auto_disable, auto_enable = (options.get("auto_disable_enabled"),
                                 options.get("auto_enable_enabled"))
    for key, result in zip(keys, results, strict=True):
        ChannelKey.objects.filter(pk=key.pk).update(
            tested_at=now, response_ms=result.response_ms, last_error=result.error[:500])
        if result.key_invalid and auto_disable and key.status == KeyStatus.ENABLED:
            set_key_status(key, KeyStatus.AUTO_DISABLED,
                           f"test failed ({result.status}): {result.error}", automatic=True)
        elif result.ok and auto_enable and key.status == KeyStatus.AUTO_DISABLED:
            set_key_status(key, KeyStatus.ENABLED, "passed a test", automatic=True)


def _apply_outcome(channel: Channel, outcome: ChannelTestResult, opts: dict) -> None:
    limit = int(opts["channel_disable_latency_ms"])
    slow = outcome.ok and limit > 0 and outcome.response_ms > limit
    channel.refresh_from_db(fields=["status"])
    if slow and channel.status == ChannelStatus.ENABLED and opts["auto_disable_enabled"]:
        set_channel_status(channel, ChannelStatus.AUTO_DISABLED,
                           f"test took {outcome.response_ms} ms (limit {limit} ms)",
                           automatic=True)
    elif (outcome.ok and not slow and channel.status == ChannelStatus.AUTO_DISABLED
          and opts["auto_enable_enabled"]):
        set_channel_status(channel, ChannelStatus.ENABLED,
                           f"passed a test in {outcome.response_ms} ms", automatic=True)


# ---- balances -----------------------------------------------------------------------------
def supports_balance(channel: Channel) -> bool:
    """Whether the channel's provider has a balance API the adaptor knows."""
    from providers.registry import get_adaptor

    key = channel.keys.exclude(status=KeyStatus.DISABLED).first()
    if key is None:
        return False
    return get_adaptor(channel.type).balance_request(channel_spec(channel, key)) is not None


def refresh_balance(channel: Channel) -> Decimal | None:
    """Query the provider's balance API with the channel's first usable key and store the
    amount (and its currency) on the channel. Returns None when the provider has no
    balance API; raises ChannelError when the query fails. Crossing below the channel's
    balance_threshold writes a log row and warns the operator once."""
    from providers.errors import RelayError

    from . import upstream

    key = channel.keys.exclude(status=KeyStatus.DISABLED).first()
    if key is None:
        raise ChannelError(f"channel {channel.name} has no usable key")
    try:
        balance = upstream.run(upstream.fetch_balance(channel_spec(channel, key)))
    except RelayError as exc:
        raise ChannelError(f"balance of channel {channel.name}: {exc.message}") from exc
    if balance is None:
        return None
    amount = Decimal(str(balance.amount)).quantize(Decimal("0.0001"))
    previous = channel.balance
    Channel.objects.filter(pk=channel.pk).update(
        balance=amount, balance_currency=balance.currency, balance_updated_at=timezone.now())
    channel.balance, channel.balance_currency = amount, balance.currency
    threshold = channel.balance_threshold
    if threshold is not None and amount < threshold and (previous is None or
                                                         previous >= threshold):
        _event(channel.pk, f"channel {channel.name} balance is low",
               f"{amount} {balance.currency} left (warning below {threshold})", "low_balance")
    return amount


def notify(event: str, subject: str, message: str, channel_id: int | None = None) -> None:
    """Tell the operator (email and webhook) off the caller's path; see channels_app.notify."""
    from . import notify as notifier

    notifier.send_later(event, subject, message, channel_id)
