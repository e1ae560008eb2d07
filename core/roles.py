"""Role names and the plain role predicates, with no model import.

An account's `role` is one of the strings below (billing's `UserRole` choices take their
values from here). The rules that need accounts and querysets ("who may manage whom")
live in billing.roles.
"""

from __future__ import annotations

from typing import Any

USER = "user"
ADMIN = "admin"
ROOT = "root"
OPERATOR_ROLES = (ADMIN, ROOT)


def is_operator(actor: Any) -> bool:
    """Active admins and root (and billing's console actor): they run the gateway."""
    return bool(
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and getattr(actor, "role", None) in OPERATOR_ROLES
    )


def is_root(actor: Any) -> bool:
    """Active root users (and billing's console actor)."""
    return is_operator(actor) and actor.role == ROOT
