from django.core.management.base import BaseCommand

from oneproxy.beat import sync_schedules


class Command(BaseCommand):
    help = (
        "Write the periodic jobs (channel tests, balances, housekeeping, quota flush) into "
        "django-celery-beat's tables, where the admin shows and edits them. Creates missing "
        "ones; updates an interval from settings only if nobody edited it in the admin."
    )

    def handle(self, *args, **options):
        report = sync_schedules()
        for label, names in (("created", report.created), ("updated", report.updated),
                             ("kept (edited in the admin)", report.kept),
                             ("unchanged", report.unchanged)):
            if names:
                self.stdout.write(f"{label}: {', '.join(sorted(names))}")
