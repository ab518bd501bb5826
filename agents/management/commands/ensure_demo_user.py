"""Create (or reset) the demo account and print how to sign in."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create the demo user (DEMO_USERNAME/DEMO_PASSWORD, default demo/demo-password) and print its credentials."

    def handle(self, *args, **options):
        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        user, created = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = True
        user.is_superuser = True
        user.save()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo user {'created' if created else 'ready'}: username={username} password={password} "
                f"(staff: /admin/)\nAPI token: {token.key}  (Authorization: Token {token.key})"
            )
        )
