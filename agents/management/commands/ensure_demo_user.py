"""Create the demo account once, and print how to sign in and what this process runs on."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from rest_framework.authtoken.models import Token

from agents.redact import redact_secrets


def database_description() -> str:
    """Return which database the settings point at: its engine and name or address, never a password."""
    params = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"SQLite, file {params['NAME']}"
    address = f"{params.get('HOST') or 'localhost'}:{params.get('PORT') or 'default port'}"
    return f"{connection.display_name}, database {params['NAME']!s} on {address}"


def bus_description() -> str:
    """Return how events reach streams in other processes: Redis (its URL, credentials masked) or this process only."""
    if settings.REDIS_URL:
        return f"Redis at {redact_secrets(settings.REDIS_URL)} (events reach streams in every process)"
    return "in-process (no REDIS_URL: one web process; streams and runs must share it)"


class Command(BaseCommand):
    help = (
        "Create the demo user (DEMO_USERNAME/DEMO_PASSWORD, default demo/demo-password) if it does not exist; "
        "an existing user and its password are never changed. Print the API token and the database and bus in use."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        users = get_user_model()
        user = users.objects.filter(username=username).first()
        if user is None:
            # Created once. Later runs leave the password alone: resetting it would sign out every
            # browser (Django ties sessions to the password hash) each time the server restarts.
            user = users.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(
                self.style.SUCCESS(f"Demo user created: username={username} password={password} (staff: /admin/)")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo user ready: username={username} (its password is unchanged; DEMO_PASSWORD "
                    "only applies when the user is created)"
                )
            )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"API token: {token.key}  (Authorization: Token {token.key})")
        self.stdout.write(f"Database: {database_description()}")
        self.stdout.write(f"Event bus: {bus_description()}")
        celery = settings.AGENT_RUNNER == "celery"
        runner = "Celery workers (start them with `make worker`)" if celery else "this process"
        self.stdout.write(f"Runs execute in: {runner}")
