"""The shipped price table (fixtures/prices.json, in USD) on a fresh install, so that costs are counted from
the first request; editable in admin afterwards. Read with this migration's own model, not `loaddata`, so
that a later change to `Price` can't break it. A price already there for a name and day is left as it is;
with CHATGATEWAY_CURRENCY other than USD nothing is loaded (dollar figures would be charged as yuan)."""

import json
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import migrations

TABLE = Path(__file__).resolve().parents[2] / "fixtures" / "prices.json"
TABLE_CURRENCY = "USD"


def load_default_prices(apps, schema_editor):
    if getattr(settings, "CHATGATEWAY_CURRENCY", TABLE_CURRENCY) != TABLE_CURRENCY or not TABLE.exists():
        return
    Price = apps.get_model("providers", "Price")
    for entry in json.loads(TABLE.read_text()):
        fields = entry["fields"]
        if fields.get("deployment") is not None:
            continue
        Price.objects.get_or_create(
            model_name=fields["model_name"],
            deployment=None,
            valid_from=fields["valid_from"],
            defaults={
                "input": Decimal(fields["input"]),
                "cached_input": None if fields["cached_input"] is None else Decimal(fields["cached_input"]),
                "output": Decimal(fields["output"]),
                "note": fields.get("note", ""),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_price")]

    operations = [migrations.RunPython(load_default_prices, migrations.RunPython.noop)]
