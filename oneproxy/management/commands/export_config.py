"""`manage.py export_config [--include-secrets] [--output FILE]`: configuration as JSON."""

import json

from django.core.management.base import BaseCommand

from oneproxy.importers.config_backup import export_config


class Command(BaseCommand):
    help = ("Export groups, prices, options and channels as JSON. Channel keys and "
            "credentials are left out unless --include-secrets is given.")

    def add_arguments(self, parser):
        parser.add_argument("--include-secrets", action="store_true",
                            help="Include channel keys and credential config entries.")
        parser.add_argument("--output", "-o", default="-", help="File to write (default: "
                            "standard output).")

    def handle(self, *args, include_secrets, output, **options):
        text = json.dumps(export_config(include_secrets=include_secrets), indent=2,
                          ensure_ascii=False, sort_keys=False) + "\n"
        if output == "-":
            self.stdout.write(text, ending="")
            return
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        if include_secrets:
            self.stderr.write(f"{output} contains upstream keys: keep it private.")
