"""Billing admin: one module per area; importing them registers the model admins."""

from . import ledger, prices, system, tokens, users  # noqa: F401
