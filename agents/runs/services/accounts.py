"""The accounts the commands act as: the demo user of ``make run`` and the user of ``manage.py chat``."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token


def demo_user_ensure(*, username: str, password: str) -> tuple[AbstractBaseUser, bool]:
    """Create the demo superuser once; return ``(user, created)``. An existing user is left alone.

    Later calls never reset the password: that would sign out every browser
    (Django ties sessions to the password hash) each time the server restarts.
    """
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is not None:
        return user, False
    return users.objects.create_superuser(username=username, email="", password=password), True


def command_user_get_or_create(*, username: str) -> AbstractBaseUser:
    """Return the user a command acts as, created without a usable password when missing."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def api_token_get_or_create(*, user: AbstractBaseUser) -> str:
    """Return the user's API token (``Authorization: Token <key>``), made on first use."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
