"""The seed price list shipped with migration billing.0007."""

import importlib
import json
from decimal import Decimal

from django.apps import apps

from billing.models import Price

seed = importlib.import_module("billing.migrations.0007_seed_prices")


def test_the_seed_file_states_its_date_and_covers_every_major_provider():
    data = json.loads(seed.SEED.read_text())
    assert data["as_of"]
    providers = {row["provider"] for row in data["prices"]}
    assert {"openai", "anthropic", "gemini", "deepseek", "qwen", "zhipu"} <= providers


def test_seeding_adds_every_model_once_and_never_overwrites_an_edit(db):
    seed.seed_prices(apps, None)
    count = Price.objects.count()
    assert count == len(json.loads(seed.SEED.read_text())["prices"])
    gpt = Price.objects.get(model="gpt-4o")
    assert (gpt.input_price, gpt.output_price, gpt.cached_input_price) == (
        Decimal("2.5"), Decimal("10"), Decimal("1.25"),
    )  # fmt: skip
    assert gpt.model_ratio == Decimal("1.25") and gpt.completion_ratio == Decimal("4")
    gpt.input_price = Decimal("9")
    gpt.save()
    seed.seed_prices(apps, None)
    assert Price.objects.count() == count
    assert Price.objects.get(model="gpt-4o").input_price == Decimal("9")


def test_every_seeded_price_passes_model_validation(db):
    seed.seed_prices(apps, None)
    for price in Price.objects.all():
        price.full_clean()
