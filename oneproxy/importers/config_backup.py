"""Back up and restore configuration as JSON: groups, prices, options and channels.

Channel keys and credential-like config entries are exported only with include_secrets;
restoring a file without them keeps the keys and secrets a channel already has. Rows are
matched on natural keys (group name, price model, option key, channel name), so restoring
the same file twice changes nothing the second time. Validation reuses the API's
serializers, so a bad file gets the same field errors as the API.
"""

from django.db import transaction
from django.utils import timezone

from billing.models import Group, Option, Price
from billing.option_specs import OPTION_SPECS
from channels_app.models import Channel

from .report import Report

FORMAT = "oneproxy-config"
VERSION = 1
PRICE_FIELDS = ("input_price", "output_price", "cached_input_price", "per_request_price")
CHANNEL_FIELDS = ("type", "base_url", "model_mapping", "priority", "weight", "status",
                  "test_model", "tag")


class ConfigError(Exception):
    """The file is not a OneProxy config export: the message says why."""


def export_config(*, include_secrets: bool = False) -> dict:
    """Everything needed to rebuild the gateway's configuration, as plain JSON types."""
    from oneproxy.api.channel_serializers import SECRET_CONFIG_KEYS

    def channel(c: Channel) -> dict:
        data = {field: getattr(c, field) for field in CHANNEL_FIELDS}
        data["balance_threshold"] = _str(c.balance_threshold)
        data["name"], data["models"] = c.name, list(c.model_names)
        data["groups"] = sorted(g.name for g in c.groups.all())
        data["config"] = {k: v for k, v in (c.config or {}).items()
                          if include_secrets or k not in SECRET_CONFIG_KEYS}
        if include_secrets:
            data["keys"] = [k.key for k in c.keys.all()]
        return data

    return {
        "format": FORMAT, "version": VERSION, "exported_at": timezone.now().isoformat(),
        "includes_secrets": include_secrets,
        "groups": [{"name": g.name, "ratio": str(g.ratio), "description": g.description}
                   for g in Group.objects.order_by("name")],
        "prices": [{"model": p.model, "provider": p.provider,
                    **{f: _str(getattr(p, f)) for f in PRICE_FIELDS}}
                   for p in Price.objects.order_by("model")],
        "options": {o.key: o.value for o in Option.objects.filter(key__in=OPTION_SPECS)},
        "channels": [channel(c) for c in
                     Channel.objects.prefetch_related("groups", "keys").order_by("pk")],
    }


def _str(value):
    return None if value is None else str(value)


def import_config(data: dict, *, dry_run: bool = False) -> Report:
    """Apply an export. Raises ConfigError for a file of the wrong shape; field errors of
    single rows are reported as skipped rows (the rest still applies)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError("not a OneProxy config export (missing \"format\": "
                          f"\"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise ConfigError(f"unsupported config version {data.get('version')!r}")
    report = Report(dry_run=dry_run)
    with transaction.atomic():
        for name, rows, apply in (("groups", data.get("groups", []), _group),
                                  ("prices", data.get("prices", []), _price),
                                  ("channels", data.get("channels", []), _channel)):
            for row in rows:
                apply(row, report, name)
        _options(data.get("options", {}), report)
        if dry_run:
            transaction.set_rollback(True)
    return report


def _save(serializer_class, instance, row: dict, report: Report, kind: str, label,
          current: dict | None = None) -> None:
    """Validate `row` with the API serializer; create, update, or leave alone."""
    if current is None and instance is not None:
        current = serializer_class(instance).data
    if instance is not None and _same(current, row):
        report.add(kind, "unchanged", label)
        return
    serializer = serializer_class(instance, data=row, partial=instance is not None,
                                  context={"actor": "import_config"})
    if not serializer.is_valid():
        report.add(kind, "skipped", label, f"invalid: {dict(serializer.errors)}")
        return
    serializer.save()
    report.add(kind, "imported" if instance is None else "updated", label)


def _same(current: dict, row: dict) -> bool:
    from decimal import Decimal

    def norm(value):
        if isinstance(value, float | int | str) and not isinstance(value, bool):
            try:
                return Decimal(str(value)).normalize()
            except ArithmeticError:
                return value
        return value

    return all(norm(current.get(k)) == norm(v) for k, v in row.items())


def _group(row, report, kind):
    from oneproxy.api.billing_serializers import GroupSerializer

    name = str(row.get("name", ""))
    _save(GroupSerializer, Group.objects.filter(name=name).first(), row, report, kind, name)


def _price(row, report, kind):
    from oneproxy.api.billing_serializers import PriceSerializer

    model = str(row.get("model", ""))
    _save(PriceSerializer, Price.objects.filter(model=model).first(), row, report, kind, model)


def _channel(row, report, kind):
    from oneproxy.api.channel_serializers import ChannelSerializer

    name = str(row.get("name", ""))
    existing = Channel.objects.filter(name=name).order_by("pk").first()
    row, current = dict(row), None
    if existing is not None:
        # Secrets absent from the file stay as they are.
        row["config"] = {**(existing.config or {}), **row.get("config", {})}
        current = {**ChannelSerializer(existing).data, "config": existing.config,
                   "keys": [k.key for k in existing.keys.all()]}
    elif not row.get("keys"):
        report.add(kind, "skipped", name, "new channel without keys (export with "
                   "--include-secrets to restore keys)")
        return
    _save(ChannelSerializer, existing, row, report, kind, name, current)


def _options(values: dict, report: Report) -> None:
    from rest_framework.exceptions import ValidationError

    from oneproxy.api.options_views import typed_value

    for key, value in values.items():
        if key not in OPTION_SPECS:
            report.add("options", "skipped", key, "unknown option")
            continue
        try:
            value = typed_value(key, value)
        except ValidationError as exc:
            codes = exc.get_codes()["value"]
            report.add("options", "skipped", key,
                       str(exc.detail["value"][0]) if codes == ["range"] else "wrong type")
            continue
        row = Option.objects.filter(key=key).first()
        if row is not None and row.value == value:
            report.add("options", "unchanged", key)
            continue
        Option.objects.update_or_create(key=key, defaults={"value": value})
        report.add("options", "imported" if row is None else "updated", key)
