"""Create the demo account once, and print how to sign in and what this process runs on."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from agents.redact import redact_secrets
from agents.runs.services import accounts


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
        user, created = accounts.demo_user_ensure(username=username, password=password)
        if created:
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
        token = accounts.api_token_get_or_create(user=user)
        self.stdout.write(f"API token: {token}  (Authorization: Token {token})")
        self.stdout.write(f"Database: {database_description()}")
        self.stdout.write(f"Event bus: {bus_description()}")
        celery = settings.AGENT_RUNNER == "celery"
        runner = "Celery workers (start them with `make worker`)" if celery else "this process"
        self.stdout.write(f"Runs execute in: {runner}")
