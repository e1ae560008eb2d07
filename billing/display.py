"""How billing amounts read on operator pages (admin lists, dashboard, account page)."""

from __future__ import annotations

from .pricing import quota_to_usd


def quota_text(quota: int | None) -> str:
    """Quota as operators read it everywhere: units and the USD they are worth."""
    if quota is None:
        return "-"
    return f"{quota:,} (${quota_to_usd(quota):,.4f})"
