"""Seed the price list from billing/fixtures/seed_prices.json (see its `as_of` date).

Only models without a price row are added, so re-running never overwrites an operator's
edits; later price changes are made in the admin.
"""

import json
from decimal import Decimal
from pathlib import Path

from django.db import migrations

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed_prices.json"
FIELDS = ("input_price", "output_price", "cached_input_price", "per_request_price")


def seed_prices(apps, schema_editor):
    Price = apps.get_model("billing", "Price")
    data = json.loads(SEED.read_text())
    for row in data["prices"]:
        values = {f: None if row[f] is None else Decimal(row[f]) for f in FIELDS}
        Price.objects.get_or_create(
            model=row["model"], defaults={"provider": row["provider"], **values}
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_import_records")]

    operations = [migrations.RunPython(seed_prices, migrations.RunPython.noop)]
