"""`manage.py import_config FILE [--dry-run]`: apply a JSON file from export_config."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from oneproxy.importers.config_backup import ConfigError, import_config


class Command(BaseCommand):
    help = ("Restore groups, prices, options and channels from export_config JSON. "
            "Matches rows by name, so running it twice changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the JSON file, or - for standard input.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Report what would change; save nothing.")

    def handle(self, *args, file, dry_run, **options):
        try:
            if file == "-":
                data = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as handle:
                    data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        try:
            report = import_config(data, dry_run=dry_run)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
