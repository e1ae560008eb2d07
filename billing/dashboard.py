"""Dashboard data: everything comes from the DailyUsage rollups, never from a scan of the
raw log table (channels_app.dashboard adds the channels' health for operators). Charts are
drawn server-side as SVG, so the page needs no JavaScript library and no CDN; this module
computes their geometry."""

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from .display import quota_text
from .models import DailyUsage, User

CHART_WIDTH = 720
CHART_HEIGHT = 160
TOP_N = 10


def build(*, user_id: int | None = None, days: int = 30, today: date | None = None) -> dict:
    """The dashboard for everyone (`user_id=None`, operators) or for one user's own usage.
    Top users are only computed for the operator view."""
    today = today or timezone.localdate()
    start = today - timedelta(days=days - 1)
    usage = DailyUsage.objects.filter(day__gte=start, day__lte=today)
    if user_id is not None:
        usage = usage.filter(user_id=user_id)
    series = _per_day(usage, start, days)
    data = {
        "start": start,
        "end": today,
        "totals": _totals(series),
        "requests_chart": column_chart(series, "requests"),
        "tokens_chart": column_chart(series, "tokens"),
        "quota_chart": column_chart(series, "quota"),
        "top_models": bar_list(_top(usage, "model"), "model"),
    }
    if user_id is None:
        data["top_users"] = bar_list(_top_users(usage), "username")
    return data


def _per_day(usage, start: date, days: int) -> list[dict]:
    sums = {
        row["day"]: row
        for row in usage.values("day").annotate(
            requests=Sum("requests"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            quota=Sum("quota"),
        )
    }
    series = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = sums.get(day, {})
        series.append({
            "day": day,
            "requests": row.get("requests") or 0,
            "tokens": (row.get("prompt") or 0) + (row.get("completion") or 0),
            "quota": row.get("quota") or 0,
        })  # fmt: skip
    return series


def _totals(series: list[dict]) -> dict:
    quota = sum(point["quota"] for point in series)
    return {
        "requests": sum(point["requests"] for point in series),
        "tokens": sum(point["tokens"] for point in series),
        "quota": quota,
        "quota_text": quota_text(quota),
        "requests_text": f"{sum(point['requests'] for point in series):,}",
        "tokens_text": f"{sum(point['tokens'] for point in series):,}",
    }


def _top(usage, field: str) -> list[dict]:
    return list(
        usage.values(field)
        .annotate(quota=Sum("quota"), requests=Sum("requests"))
        .order_by("-quota", "-requests")[:TOP_N]
    )


def _top_users(usage) -> list[dict]:
    rows = _top(usage, "user_id")
    names = dict(
        User.objects.filter(pk__in=[r["user_id"] for r in rows]).values_list("pk", "username")
    )
    for row in rows:
        row["username"] = names.get(row["user_id"], f"#{row['user_id']}")
    return rows


def column_chart(series: list[dict], field: str) -> dict:
    """Geometry of a daily column chart: one bar per day, scaled to the biggest day."""
    peak = max((point[field] for point in series), default=0) or 1
    slot = CHART_WIDTH / max(len(series), 1)
    bars = []
    for index, point in enumerate(series):
        height = round(point[field] / peak * (CHART_HEIGHT - 20), 1)
        bars.append({
            "x": round(index * slot + 1, 1), "y": round(CHART_HEIGHT - height, 1),
            "w": round(max(slot - 2, 1), 1), "h": height,
            "day": point["day"], "value": point[field],
        })  # fmt: skip
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT}


def bar_list(rows: list[dict], label_field: str) -> list[dict]:
    """Horizontal bars for a ranking: each row gets a width in percent of the top row."""
    peak = max((row["quota"] for row in rows), default=0) or 1
    return [
        {
            "label": row[label_field],
            "quota": row["quota"],
            "quota_text": quota_text(row["quota"] or 0),
            "requests": row["requests"],
            "pct": round((row["quota"] or 0) / peak * 100, 1),
        }
        for row in rows
    ]
