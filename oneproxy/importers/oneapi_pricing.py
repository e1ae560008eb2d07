"""Groups (GroupRatio), prices (ModelRatio x CompletionRatio) and the runtime options that
have a OneProxy counterpart."""

from decimal import Decimal

from billing.models import Group, Option, Price
from billing.models.prices import USD_PER_MILLION_AT_RATIO_ONE
from billing.option_specs import OPTION_SPECS

PRICE_PLACES = Decimal("0.000001")

# One API option -> (our option, converter kind)
OPTION_MAP = {
    "RetryTimes": ("retry_times", "int"),
    "QuotaForNewUser": ("quota_for_new_user", "quota"),
    "AutomaticDisableChannelEnabled": ("auto_disable_enabled", "bool"),
    "AutomaticEnableChannelEnabled": ("auto_enable_enabled", "bool"),
    "DisplayInCurrencyEnabled": ("display_in_usd", "bool"),
    "ChannelDisableThreshold": ("channel_disable_latency_ms", "seconds_to_ms"),
}


def import_pricing(importer) -> None:
    import_groups(importer)
    import_prices(importer)
    import_options(importer)


def group_named(importer, name: str) -> Group:
    """Our group for a source group name, created (ratio 1) when missing."""
    name = (name or "default").strip()[:32] or "default"
    group, created = Group.objects.get_or_create(name=name)
    if created:
        importer.report.add("groups", "imported", name)
    return group


def import_groups(importer) -> None:
    for name, ratio in importer.ratio_json("GroupRatio").items():
        ratio = ratio.quantize(Decimal("0.0001"))
        group = Group.objects.filter(name=name[:32]).first()
        if group is None:
            Group.objects.create(name=name[:32], ratio=ratio)
            importer.report.add("groups", "imported", name)
        elif group.ratio != ratio:
            group.ratio = ratio
            group.save(update_fields=["ratio"])
            importer.report.add("groups", "updated", name, "ratio follows GroupRatio")
        else:
            importer.report.add("groups", "unchanged", name)


def import_prices(importer) -> None:
    """input $/1M = model ratio x 2; output = input x completion ratio (1 when unset)."""
    model_ratios = importer.ratio_json("ModelRatio")
    completion = importer.ratio_json("CompletionRatio")
    if not model_ratios:
        importer.report.note("no ModelRatio option in the source: no prices imported.")
    for model, ratio in model_ratios.items():
        input_price = (ratio * USD_PER_MILLION_AT_RATIO_ONE).quantize(PRICE_PLACES)
        output_price = (input_price * completion.get(model, Decimal(1))).quantize(PRICE_PLACES)
        _upsert_price(importer, model[:128], input_price, output_price)


def _upsert_price(importer, model: str, input_price: Decimal, output_price: Decimal) -> None:
    price = Price.objects.filter(model=model).first()
    if price is None:
        Price.objects.create(model=model, input_price=input_price, output_price=output_price)
        importer.report.add("prices", "imported", model)
    elif (price.input_price, price.output_price) != (input_price, output_price):
        price.input_price, price.output_price = input_price, output_price
        price.save(update_fields=["input_price", "output_price", "updated_at"])
        importer.report.add("prices", "updated", model, "price follows ModelRatio")
    else:
        importer.report.add("prices", "unchanged", model)


def import_options(importer) -> None:
    for source_key, (our_key, kind) in OPTION_MAP.items():
        raw = importer.options.get(source_key)
        if raw is None or our_key not in OPTION_SPECS:
            continue
        value = _option_value(importer, raw, kind)
        if value is None:
            importer.report.add("options", "skipped", source_key, "unreadable value")
            continue
        row = Option.objects.filter(key=our_key).first()
        if row is not None and row.value == value:
            importer.report.add("options", "unchanged", source_key)
            continue
        Option.objects.update_or_create(key=our_key, defaults={"value": value})
        importer.report.add("options", "imported" if row is None else "updated", source_key)


def _option_value(importer, raw: str, kind: str):
    from .convert import as_bool, parse_decimal

    if kind == "bool":
        return as_bool(raw)
    number = parse_decimal(raw)
    if number is None:
        return None
    if kind == "quota":
        return importer.quota(int(number))
    if kind == "seconds_to_ms":
        return int(number * 1000)
    return int(number)
