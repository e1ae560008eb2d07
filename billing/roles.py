"""Who may manage whom: the one rule behind the admin, the management API and the commands.

Roles, not Django's permission rows, decide. In short:

- root manages every account: roles, passwords, balances, relay tokens, access tokens;
- an admin manages accounts of role `user` (profile, status, password, balance, tokens)
  and, of their own account, only the password and their own relay and access tokens;
  admin and root accounts are visible to them but read-only, their access tokens invisible;
- a user manages only their own password, relay tokens and access tokens.

`actor` is whoever acts: a signed-in user, or `CONSOLE` for management commands, whose
caller holds the database and the settings and so already has root's power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.roles import is_operator, is_root

from .models.accounts import UserRole

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import User

class _Console:
    """The management-command caller: acts as root (see the module docstring)."""

    pk = None
    role = UserRole.ROOT
    is_authenticated = True
    is_active = True
    username = "console"

    def __repr__(self) -> str:
        return "CONSOLE"


CONSOLE = _Console()


def _is_self(actor, target) -> bool:
    return actor.pk is not None and actor.pk == target.pk


def may_manage(actor, target: User) -> bool:
    """True when `actor` may edit (role, status, group, profile), enable or disable,
    delete and top up `target`'s account: root for every account, an admin for role `user`
    only (not their own account: no admin raises their own balance or role)."""
    if is_root(actor):
        return True
    return is_operator(actor) and target.role == UserRole.USER


def may_set_password(actor, target: User) -> bool:
    """Whoever manages `target`, and every active user for their own account."""
    return may_manage(actor, target) or (_is_active(actor) and _is_self(actor, target))


def may_own_tokens_of(actor, owner: User) -> bool:
    """True when `actor` may create, change, regenerate and revoke relay tokens and access
    tokens owned by `owner`: whoever manages `owner`, and everyone for their own."""
    return may_manage(actor, owner) or (_is_active(actor) and _is_self(actor, owner))


def may_see_relay_tokens_of(actor, owner: User) -> bool:
    """Operators see every relay token (prefix only, read-only where they may not
    manage it) to follow traffic; users see their own."""
    return is_operator(actor) or may_own_tokens_of(actor, owner)


def may_redeem(creator: User | None, redeemer: User) -> bool:
    """A redemption code tops up on its creator's behalf: codes of root (or of no one:
    imported, console-made) serve every account, an admin's codes only role `user`, so no
    admin funds their own or another admin's balance through a code."""
    if creator is None or creator.role == UserRole.ROOT:
        return True
    return redeemer.role == UserRole.USER


def assignable_roles(actor) -> tuple[str, ...]:
    """The roles `actor` may give an account it creates or edits."""
    if is_root(actor):
        return tuple(UserRole.values)
    return (UserRole.USER,) if is_operator(actor) else ()


def managed_owners(actor, users: QuerySet) -> QuerySet:
    """`users` narrowed to those `actor` may give tokens to (`may_own_tokens_of`)."""
    if is_root(actor):
        return users
    if is_operator(actor):
        return users.filter(role=UserRole.USER) | users.filter(pk=actor.pk)
    return users.filter(pk=actor.pk) if _is_active(actor) else users.none()


def owned_rows(actor, rows: QuerySet, owner: str = "user") -> QuerySet:
    """`rows` (with an `owner` foreign key) narrowed to those whose owner `actor` may own
    tokens of: how access tokens are listed."""
    if is_root(actor):
        return rows
    if is_operator(actor):
        return rows.filter(**{f"{owner}__role": UserRole.USER}) | rows.filter(
            **{owner: actor.pk}
        )
    return rows.filter(**{owner: actor.pk}) if _is_active(actor) else rows.none()


def _is_active(actor) -> bool:
    return bool(actor is not None and actor.is_authenticated and actor.is_active)
