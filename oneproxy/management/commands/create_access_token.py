"""`manage.py create_access_token <username> [--name NAME]`: print a new API key once."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import AccessToken, User


class Command(BaseCommand):
    help = "Create a personal access token for the management API and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token.")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is disabled.")
        token = AccessToken(user=user, name=name[:64])
        key = token.assign_new_key()
        token.save()
        self.stdout.write(key)
