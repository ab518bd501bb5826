"""Admin pieces shared by the apps."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest


class CascadeHistoryMixin:
    """Let a superuser delete an object whose cascade removes read-only history.

    The history admins refuse delete so nobody edits what the agents did; but
    deleting its owner (a session, a user) must still take the history with
    it. Django's delete screen asks each related admin for delete permission,
    so this waives that check for superusers only.
    """

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        deleted, model_count, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, set(), protected


User = get_user_model()


class PlatformUserAdmin(CascadeHistoryMixin, UserAdmin):
    """Django's user admin, able to delete a user together with their sessions and runs."""


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, PlatformUserAdmin)
