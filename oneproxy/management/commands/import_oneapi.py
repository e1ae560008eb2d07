"""`manage.py import_oneapi --dsn <URL> [--dry-run] [--flavor auto|oneapi|newapi]`."""

from django.core.management.base import BaseCommand, CommandError

from oneproxy.importers.oneapi import OneAPIImporter
from oneproxy.importers.source import Source, SourceError


class Command(BaseCommand):
    help = ("Import users, tokens (same sk- keys), channels, redemption codes and pricing "
            "from a One API or New API database. Safe to run again: nothing is imported "
            "twice.")

    def add_arguments(self, parser):
        parser.add_argument("--dsn", required=True,
                            help="mysql://user:pass@host:3306/oneapi, postgres://..., "
                                 "sqlite:///path/one-api.db, or One API's SQL_DSN value")
        parser.add_argument("--dry-run", action="store_true",
                            help="Report what would be imported; save nothing.")
        parser.add_argument("--flavor", choices=["auto", "oneapi", "newapi"], default="auto",
                            help="Which channel type numbering the source uses.")

    def handle(self, *args, dsn, dry_run, flavor, **options):
        try:
            source = Source(dsn)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        try:
            report = OneAPIImporter(source, flavor=flavor, dry_run=dry_run).run()
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        finally:
            source.close()
        for line in report.lines():
            self.stdout.write(line)
