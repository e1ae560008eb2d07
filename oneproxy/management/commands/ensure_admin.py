import secrets

import environ
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first superuser if none exists. Credentials come from "
        "ONEPROXY_ADMIN_USERNAME / ONEPROXY_ADMIN_PASSWORD, else a random password is "
        "generated and printed once. Does nothing when a superuser already exists."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True).order_by("pk").first()
        if existing:
            self.stdout.write(f"Admin user: {existing.get_username()} (password unchanged)")
            return
        env = environ.Env()
        username = env.str("ONEPROXY_ADMIN_USERNAME", default="admin")
        password = env.str("ONEPROXY_ADMIN_PASSWORD", default="")
        generated = not password
        password = password or secrets.token_urlsafe(15)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user: {username}"))
        if generated:
            self.stdout.write(f"Generated password (shown once): {password}")
