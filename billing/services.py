"""Billing workflows: one entry point each, called by the admin, the API and the jobs.

Counters move only through F() updates inside transactions; nothing here reads a balance,
adds to it in Python and writes it back.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core import cachebus

from . import roles, token_policy
from .models import (
    QUOTA_MAX,
    AccessToken,
    Log,
    LogType,
    Redemption,
    RedemptionStatus,
    Token,
    TokenStatus,
    User,
)


class BillingError(Exception):
    """A workflow refused: the message is safe to show to the user."""


def create_token(user: User, name: str, **fields) -> tuple[Token, str]:
    """Create a token for `user`; returns it with its full key, which is never stored."""
    token = Token(user=user, name=name, **fields)
    key = token.assign_new_key()
    token.full_clean()
    token.save()
    return token, key


def create_access_token(owner: User, name: str, *, by) -> tuple[AccessToken, str]:
    """Create a management-API access token for `owner` on behalf of `by` (a user, or
    `roles.CONSOLE`); returns it with its full key, which is never stored.
    Raises BillingError when `owner` is disabled or `by` may not manage them."""
    if not owner.is_active:
        raise BillingError(_("User %(name)s is disabled.") % {"name": owner.username})
    if not roles.may_own_tokens_of(by, owner):
        raise BillingError(_("Only root creates access tokens for admin and root accounts."))
    token = AccessToken(user=owner, name=name[:64])
    key = token.assign_new_key()
    token.save()
    return token, key


def regenerate_token_key(token: Token) -> str:
    """Give `token` a new key (the old one stops working at once); returns the new key."""
    key = token.assign_new_key()
    token.save(update_fields=["key_hash", "key_prefix"])
    return key


def revoke_tokens(tokens, *, by: User | None = None) -> int:
    """Disable the given tokens; returns how many changed. Tokens an operator `by`
    revokes for someone else stay disabled for their owners (billing/token_policy.py)."""
    ids = [t.pk for t in tokens]
    changed = (
        Token.objects.filter(pk__in=ids)
        .exclude(status=TokenStatus.DISABLED)
        .update(status=TokenStatus.DISABLED)
    )
    if by is not None:
        for token in Token.objects.filter(pk__in=ids).exclude(user_id=by.pk):
            if token_policy.sets_ceilings(by, token.user_id):
                token.ceilings = {**token.ceilings, "status": TokenStatus.DISABLED}
                token.save(update_fields=["ceilings"])
    cachebus.bump("auth")
    return changed


def top_up(user: User, quota: int, *, by: User | None = None, note: str = "") -> Log:
    """Add `quota` to `user`'s balance and write a top-up log row."""
    if quota <= 0:
        raise BillingError(_("Top-up quota must be positive."))
    with transaction.atomic():
        _add_to_balance(user, quota)
        log = Log.objects.create(
            type=LogType.TOPUP,
            user=user,
            username=user.username,
            quota=quota,
            content=note or _("Top-up by %(admin)s") % {"admin": by.username if by else "system"},
        )
        cachebus.bump("auth")
    _notify_quota_changed(user.pk, quota)
    return log


def _add_to_balance(user: User, quota: int) -> None:
    """Add `quota` to `user`'s balance in one conditional UPDATE; raises BillingError
    (changing nothing) when the balance would pass QUOTA_MAX."""
    if not 0 < quota <= QUOTA_MAX or not User.objects.filter(
        pk=user.pk, quota__lte=QUOTA_MAX - quota
    ).update(quota=F("quota") + quota):
        raise BillingError(
            _("This would take the balance past the maximum of %(max)d quota units.")
            % {"max": QUOTA_MAX}
        )


def redeem(user: User, code: str) -> int:
    """Redeem `code` for `user` exactly once; returns the quota added."""
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().filter(code=code.strip()).first()
        if redemption is None or redemption.status != RedemptionStatus.UNUSED:
            raise BillingError(_("This code is invalid or has already been used."))
        if not roles.may_redeem(redemption.created_by, user):
            raise BillingError(_("Codes made by an admin are for user accounts only."))
        redemption.status = RedemptionStatus.USED
        redemption.redeemed_by = user
        redemption.redeemed_at = timezone.now()
        redemption.save(update_fields=["status", "redeemed_by", "redeemed_at"])
        _add_to_balance(user, redemption.quota)
        Log.objects.create(
            type=LogType.TOPUP,
            user=user,
            username=user.username,
            quota=redemption.quota,
            content=_("Redeemed code %(code)s…") % {"code": redemption.code[:8]},
        )
        cachebus.bump("auth")
    _notify_quota_changed(user.pk, redemption.quota)
    return redemption.quota


def generate_redemptions(count: int, quota: int, *, name: str = "", by: User | None = None):
    """Create `count` unused codes worth `quota` each; returns them."""
    if not 1 <= count <= 1000:
        raise BillingError(_("Generate between 1 and 1000 codes at a time."))
    if not 0 < quota <= QUOTA_MAX:
        raise BillingError(_("Quota must be from 1 to %(max)d.") % {"max": QUOTA_MAX})
    codes = [Redemption(name=name, quota=quota, created_by=by) for _i in range(count)]
    return Redemption.objects.bulk_create(codes)


_quota_listeners = []


def on_quota_changed(listener) -> None:
    """Let the hot-path quota store hear of balance changes made outside the relay
    (top-ups, redemptions), so the very next request sees them."""
    _quota_listeners.append(listener)


def _notify_quota_changed(user_id: int, delta: int) -> None:
    for listener in _quota_listeners:
        transaction.on_commit(lambda listener=listener: listener(user_id, delta))
