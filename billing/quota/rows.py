"""Pending log rows and counter fields: how usage waits between a request and the flush.

A log row travels as JSON (in Redis or in memory) and becomes a billing.models.Log at
flush time. Rows are checked when queued, not when flushed, so one bad row can never
block a whole batch from reaching the database.
"""

import datetime
import decimal

import orjson
from django.utils import timezone

# Counter fields of the pending-deltas hash: "<kind>:<id>".
TOKEN_REMAIN = "tr"
TOKEN_USED = "tu"
TOKEN_SEEN = "tt"  # last used, epoch milliseconds (latest wins, not summed)
USER_QUOTA = "uq"
USER_USED = "uu"
USER_COUNT = "un"
USER_SEEN = "ut"
CHANNEL_USED = "cu"
TIME_KINDS = frozenset({TOKEN_SEEN, USER_SEEN})


def field(kind: str, entity_id: int) -> str:
    return f"{kind}:{entity_id}"


def split_field(name: str | bytes) -> tuple[str, int]:
    if isinstance(name, bytes):
        name = name.decode()
    kind, _sep, entity_id = name.partition(":")
    return kind, int(entity_id)


def _log_fields() -> dict[str, object]:
    from billing.models import Log

    names = {}
    for f in Log._meta.concrete_fields:
        if not f.primary_key:
            names[f.name] = f
            names[f.attname] = f
    return names


_FIELDS: dict[str, object] | None = None


def encode_row(log: dict) -> bytes:
    """Check `log` against Log's fields and serialise it; raises ValueError on a bad row."""
    global _FIELDS
    if _FIELDS is None:
        _FIELDS = _log_fields()
    unknown = sorted(set(log) - set(_FIELDS))
    if unknown:
        raise ValueError(f"unknown Log fields: {', '.join(unknown)}")
    row = {name: getattr(value, "pk", value) for name, value in log.items()}
    row = {_FIELDS[name].attname: value for name, value in row.items()}
    row.setdefault("created_at", timezone.now())
    try:
        return orjson.dumps(row, option=orjson.OPT_NAIVE_UTC, default=_json_default)
    except TypeError as exc:
        raise ValueError(f"log row is not serialisable: {exc}") from None


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return str(value)  # e.g. a price snapshot; JSONField stores it as text either way
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decode_row(raw: bytes | str) -> dict:
    """The Log keyword arguments of a queued row."""
    row = orjson.loads(raw)
    created = row.get("created_at")
    if isinstance(created, str):
        row["created_at"] = datetime.datetime.fromisoformat(created)
    return row


def ms_to_datetime(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)
