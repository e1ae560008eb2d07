"""Channels: type ids mapped to provider ids, every key (newline-separated keys become
several ChannelKey rows), and the `config` / `other` credentials other importers drop."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from channels_app.models import Channel, ChannelKey, ChannelStatus
from channels_app.services import rebuild_routing
from providers.registry import PROVIDERS_BY_ID

from .convert import from_unix, parse_decimal, parse_json_object, split_list
from .oneapi_pricing import group_named
from .oneapi_types import lookup

STATUS = {1: ChannelStatus.ENABLED, 2: ChannelStatus.DISABLED, 3: ChannelStatus.AUTO_DISABLED}
# `other` held the API version for these providers; our adaptors read config.api_version.
OTHER_IS_API_VERSION = {"azure", "gemini"}
# New API per-channel JSON knobs, kept verbatim in config for the operator to review.
NEWAPI_JSON_COLUMNS = ("setting", "param_override", "header_override", "status_code_mapping")
INT32_MAX = 2**31 - 1


def import_channels(importer) -> None:
    report = importer.report
    for row in importer.source.rows("channels"):
        sid = row["id"]
        keys = split_list(row.get("key"), "\n\r")
        if importer.mapped_id("channel", sid) is not None:
            report.add("channels", "unchanged", sid)
        elif not keys:
            report.add("channels", "skipped", sid, "no key")
        else:
            channel = _create_channel(importer, row, keys)
            importer.remember("channel", sid, channel.pk)
            report.add("channels", "imported", sid)


def _create_channel(importer, row: dict, keys: list[str]) -> Channel:
    name = str(row.get("name") or f"channel {row['id']}")[:128]
    provider, status, reason = _provider(importer, row, name)
    channel = Channel.objects.create(
        type=provider, name=name, base_url=_base_url(importer, row, name),
        config=_config(importer, row, provider, name),
        model_names=split_list(row.get("models")),
        model_mapping=_mapping(importer, row, name),
        priority=max(-INT32_MAX, min(INT32_MAX, int(row.get("priority") or 0))),
        weight=max(1, int(row.get("weight") or 0)),
        status=status, status_reason=reason[:500],
        test_model=str(row.get("test_model") or "")[:128], tag=str(row.get("tag") or "")[:64],
        balance=parse_decimal(row.get("balance")),
        balance_updated_at=from_unix(row.get("balance_updated_time")),
        used_quota=importer.quota(row.get("used_quota")),
        response_ms=max(0, int(row.get("response_time") or 0)) or None,
        tested_at=from_unix(row.get("test_time")),
    )
    if created := from_unix(row.get("created_time")):
        Channel.objects.filter(pk=channel.pk).update(created_at=created)
    groups = split_list(row.get("group")) or ["default"]
    channel.groups.set([group_named(importer, g) for g in groups])
    ChannelKey.objects.bulk_create(ChannelKey(channel=channel, key=k) for k in keys)
    rebuild_routing(channel)  # bulk_create sends no signals
    return channel


def _provider(importer, row: dict, name: str) -> tuple[str, str, str]:
    """(our provider id, status, status reason) for the row's type id."""
    type_id = int(row.get("type") or 0)
    label, wanted, _default_url = lookup(importer.flavor, type_id)
    status = STATUS.get(int(row.get("status") or 1), ChannelStatus.DISABLED)
    if wanted in PROVIDERS_BY_ID:
        return wanted, status, ""
    importer.report.note(f"channel {name!r}: {label} (type {type_id}) has no adaptor here "
                         "yet: imported as openai and disabled; review it in the admin.")
    reason = f"imported from {label} (type {type_id}); no native adaptor yet"
    return "openai", ChannelStatus.DISABLED, reason


def _base_url(importer, row: dict, name: str) -> str:
    """The row's base URL; "" (our provider default) when empty or the source's own
    default for that type, whose path conventions may differ from ours."""
    url = str(row.get("base_url") or "").strip().rstrip("/")
    _label, wanted, source_default = lookup(importer.flavor, int(row.get("type") or 0))
    if not url:
        return source_default if wanted == "custom" else ""
    if url == source_default.rstrip("/") and wanted != "custom":
        return ""
    try:
        URLValidator()(url)
    except ValidationError:
        importer.report.note(f"channel {name!r}: base URL {url!r} is not a URL; dropped.")
        return ""
    return url


def _mapping(importer, row: dict, name: str) -> dict:
    mapping = parse_json_object(row.get("model_mapping"))
    if mapping is None or not all(isinstance(v, str) and v for v in mapping.values()):
        importer.report.note(f"channel {name!r}: model_mapping is not a name->name object; "
                             "dropped.")
        return {}
    return {str(k): v for k, v in mapping.items() if k}


def _config(importer, row: dict, provider: str, name: str) -> dict:
    config = parse_json_object(row.get("config"))
    if config is None:
        importer.report.note(f"channel {name!r}: config is not a JSON object; kept as text.")
        config = {"oneapi_config": str(row.get("config"))}
    config = {k: v for k, v in config.items() if v not in ("", None)}
    other = str(row.get("other") or "").strip()
    if other:
        config.setdefault("api_version" if provider in OTHER_IS_API_VERSION else "other", other)
    if org := str(row.get("openai_organization") or "").strip():
        config.setdefault("organization", org)
    if prompt := str(row.get("system_prompt") or "").strip():
        config.setdefault("system_prompt", prompt)
    for column in NEWAPI_JSON_COLUMNS:
        value = parse_json_object(row.get(column))
        if value:
            config.setdefault(column, value)
    return _json_safe(config)


def _json_safe(value):
    """Decimals from JSON parsing back to plain numbers for the JSONField."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
