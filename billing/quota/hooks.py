"""Keep the live balances honest when balances change outside the relay.

- A top-up or a redemption (billing.services.on_quota_changed) and any save of a user's
  quota or a token's quota, unlimited flag or status drop the live balance once the
  transaction commits; the very next request reseeds it from the database plus the deltas
  not yet flushed. Dropping (rather than adding the top-up to the live balance) stays
  exact when a reseed races the commit.
- A model save writes every column, including counters a flush may have moved since the
  row was loaded (e.g. the admin form's GET). Before such a save, counters the caller did
  not change are re-read from the database (locked FOR UPDATE inside a transaction, as in
  the admin), so a save racing a flush never overwrites the flushed usage.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save, pre_save

from billing import services
from billing.models import Token, TokenStatus, User

from . import forget_token, forget_user, pending_balance_delta
from .seed import TOKEN, USER

# Columns the flush moves; a save refreshes those its caller did not change.
FLUSHED = {
    User: ("quota", "used_quota", "request_count", "last_seen"),
    Token: ("remain_quota", "used_quota", "last_used_at", "status"),
}
# The balance column of each model, and its kind in billing.quota.
BALANCE = {User: ("quota", USER), Token: ("remain_quota", TOKEN)}
# Columns that decide a live balance; saving any of them drops it.
BALANCE_INPUTS = {User: {"quota"}, Token: {"remain_quota", "unlimited_quota", "status"}}
FORGET = {User: forget_user, Token: forget_token}


def remember_loaded(sender, instance, **kwargs) -> None:
    values = instance.__dict__
    instance._quota_loaded = {f: values[f] for f in FLUSHED[sender] if f in values}


def refresh_flushed_counters(sender, instance, raw=False, using=None, update_fields=None, **kw):
    loaded = getattr(instance, "_quota_loaded", None)
    if raw or instance._state.adding or not loaded:
        return
    pk = instance.pk
    saved = [n for n in loaded if update_fields is None or n in update_fields]
    if not saved:
        return  # e.g. save(update_fields=["last_login"]): no flushed column is written
    stale = [n for n in saved if getattr(instance, n) == loaded[n]]
    rows = sender._default_manager.using(using).filter(pk=instance.pk)
    if transaction.get_connection(using).in_atomic_block:
        rows = rows.select_for_update()  # a flush touching this row waits for our commit
    fresh = rows.values("pk", *stale).first() or {}
    for name in stale:
        setattr(instance, name, fresh.get(name, loaded[name]))
    if sender is Token:
        _reenable_topped_up(instance, status_chosen="status" in saved and "status" not in stale)
    column, kind = BALANCE[sender]
    if column in saved and column not in stale:
        # An absolute edit: net out usage not flushed yet, so it lands on exactly `value`.
        setattr(instance, column, getattr(instance, column) - pending_balance_delta(kind, pk))


def _reenable_topped_up(token: Token, *, status_chosen: bool) -> None:
    """A token given quota again (or made unlimited) leaves the exhausted state, unless
    the caller chose its status explicitly."""
    has_quota = token.unlimited_quota or token.remain_quota > 0
    if token.status == TokenStatus.EXHAUSTED and has_quota and not status_chosen:
        token.status = TokenStatus.ENABLED


def drop_live_balance(sender, instance, using=None, update_fields=None, **kwargs) -> None:
    remember_loaded(sender, instance)
    if update_fields is not None and not BALANCE_INPUTS[sender] & set(update_fields):
        return
    forget, pk = FORGET[sender], instance.pk
    transaction.on_commit(lambda: forget(pk), using=using)


def drop_deleted(sender, instance, using=None, **kwargs) -> None:
    forget, pk = FORGET[sender], instance.pk
    transaction.on_commit(lambda: forget(pk), using=using)


def connect() -> None:
    """Wire the hooks (called once from BillingConfig.ready)."""
    for model in (User, Token):
        post_init.connect(remember_loaded, sender=model, dispatch_uid=f"quota-init-{model}")
        pre_save.connect(refresh_flushed_counters, sender=model, dispatch_uid=f"quota-pre-{model}")
        post_save.connect(drop_live_balance, sender=model, dispatch_uid=f"quota-post-{model}")
        post_delete.connect(drop_deleted, sender=model, dispatch_uid=f"quota-del-{model}")
    services.on_quota_changed(lambda user_id, _delta: forget_user(user_id))
