"""The channels' part of the operator dashboard: status counts and per-channel error rates
(from billing's daily rollups, never the raw log table) and the last test's latency."""

from datetime import date, timedelta

from django.db.models import Count, Sum

from billing.models import DailyUsage

from .models import Channel, ChannelStatus


def channel_health(today: date) -> dict:
    """Channel counts by status and, per channel, yesterday+today's error rate from the
    rollups and the latency of its last test."""
    by_status = dict(Channel.objects.values_list("status").annotate(n=Count("pk")))
    counts = [
        {"status": status.value, "label": status.label, "n": by_status.get(status.value, 0)}
        for status in ChannelStatus
    ]
    recent = {
        row["channel_id"]: row
        for row in DailyUsage.objects.filter(day__gte=today - timedelta(days=1))
        .values("channel_id")
        .annotate(requests=Sum("requests"), errors=Sum("errors"))
    }
    rows = []
    for channel in Channel.objects.only("name", "status", "response_ms", "tested_at"):
        stats = recent.get(channel.pk, {})
        requests = stats.get("requests") or 0
        rate = (stats.get("errors") or 0) / requests if requests else 0.0
        rows.append({
            "channel": channel, "requests": requests,
            "error_pct": round(rate * 100, 1), "latency_ms": channel.response_ms,
        })  # fmt: skip
    rows.sort(key=lambda row: (-row["error_pct"], -row["requests"]))
    return {"counts": counts, "rows": rows[:50]}
