"""Import a One API or New API database: groups and prices, users, tokens, channels and
redemption codes. `import_oneapi` (the management command) is the entry point.

Idempotent: every created row is remembered in billing.ImportedRecord under the source's
label, and rows are also matched on natural keys (username, token key, code, group name,
model), so a second run imports nothing and changes nothing. Balances and keys are never
overwritten; pricing (GroupRatio, ModelRatio) follows the source on every run.
"""

from decimal import Decimal

from django.db import transaction

from billing.models import QUOTA_MAX, ImportedRecord

from .convert import DEFAULT_QUOTA_PER_UNIT, QuotaConverter, parse_decimal
from .report import Report
from .source import Source

NEWAPI_CHANNEL_COLUMNS = {"auto_ban", "other_info", "tag", "status_code_mapping", "setting"}


class OneAPIImporter:
    """Runs one import. `run()` returns the Report; with dry_run everything is rolled
    back at the end (the report still says what would have happened)."""

    def __init__(self, source: Source, *, flavor: str = "auto", dry_run: bool = False):
        self.source = source
        self.label = source.dsn.label
        self.requested_flavor = flavor
        self.report = Report(dry_run=dry_run)
        self.mapped: dict[str, dict[str, int]] = {}

    def run(self) -> Report:
        from . import oneapi_accounts, oneapi_channels, oneapi_pricing

        with transaction.atomic():
            self._prepare()
            oneapi_pricing.import_pricing(self)
            oneapi_accounts.import_users(self)
            oneapi_accounts.import_tokens(self)
            oneapi_channels.import_channels(self)
            oneapi_accounts.import_redemptions(self)
            if self.quota.rounded:
                self.report.note(f"{self.quota.rounded} quota amounts were rounded to whole "
                                 "units (QuotaPerUnit does not divide evenly).")
            if self.quota.clamped:
                self.report.note(f"{self.quota.clamped} quota amounts were above the maximum "
                                 f"and were lowered to {QUOTA_MAX}.")
            if self.report.dry_run:
                transaction.set_rollback(True)
        return self.report

    def _prepare(self) -> None:
        self.options = self.source.options()
        self.flavor = self.requested_flavor
        if self.flavor == "auto":
            self.flavor = self._detect_flavor()
        self.report.note(f"source looks like {'New API' if self.flavor == 'newapi' else 'One API'}"
                         f" ({self.source.dsn.label})")
        per_unit = parse_decimal(self.options.get("QuotaPerUnit"), DEFAULT_QUOTA_PER_UNIT)
        if per_unit is None or per_unit <= 0:
            self.report.note("QuotaPerUnit is not a positive number: using 500000.")
            per_unit = DEFAULT_QUOTA_PER_UNIT
        self.quota = QuotaConverter(per_unit)
        self.quota_per_unit = per_unit
        self.mapped = {}
        for kind, source_id, object_id in ImportedRecord.objects.filter(
            source=self.label
        ).values_list("kind", "source_id", "object_id"):
            self.mapped.setdefault(kind, {})[source_id] = object_id

    def _detect_flavor(self) -> str:
        channels = self.source.rows("channels")
        columns = set(channels[0]) if channels else set()
        return "newapi" if columns & NEWAPI_CHANNEL_COLUMNS else "oneapi"

    # --- the import mapping ----------------------------------------------------------------
    def mapped_id(self, kind: str, source_id) -> int | None:
        return self.mapped.get(kind, {}).get(str(source_id))

    def remember(self, kind: str, source_id, object_id: int) -> None:
        ImportedRecord.objects.create(source=self.label, kind=kind, source_id=str(source_id),
                                      object_id=object_id)
        self.mapped.setdefault(kind, {})[str(source_id)] = object_id

    def ratio_json(self, key: str) -> dict[str, Decimal]:
        """A JSON ratio option (ModelRatio, ...) as {name: Decimal}; {} when absent."""
        from .convert import parse_json_object

        parsed = parse_json_object(self.options.get(key, ""))
        if parsed is None:
            self.report.note(f"option {key} is not a JSON object: ignored.")
            return {}
        values = {}
        for name, value in parsed.items():
            number = parse_decimal(value)
            if number is None or number < 0:
                self.report.note(f"option {key}: {name!r} has no usable number: ignored.")
                continue
            values[str(name)] = number
        return values
