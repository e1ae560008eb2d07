"""`manage.py create_access_token <username> [--name NAME]`: print a new API key once."""

from django.core.management.base import BaseCommand, CommandError

from billing import roles, services
from billing.models import User


class Command(BaseCommand):
    help = (
        "Create a personal access token for the management API and print it (shown once). "
        "The token acts with exactly its owner's rights."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token.")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            # The console holds the database already: it acts as root (billing.roles).
            _token, key = services.create_access_token(user, name, by=roles.CONSOLE)
        except services.BillingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key)
