"""Admin pieces shared by the apps."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from rest_framework.authtoken.admin import TokenAdmin as DRFTokenAdmin  # registers DRF's admin first
from rest_framework.authtoken.models import TokenProxy


class ViewOnlyMixin:
    """Refuse the add and change forms of a model admin or inline: its rows are shown as stored.

    Deleting is left to the admin (a superuser may remove a memory or a whole session).
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyMixin(ViewOnlyMixin):
    """Refuse adding, changing and deleting: the rows are the record of what happened.

    Such history goes only with its owner (a session, a user): see ``CascadeHistoryMixin``.
    """

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


# --- API tokens --------------------------------------------------------------
# DRF's own token admin lists every key in clear. This one shows a key's first
# characters only, never the rest: enough to tell keys apart, useless to a
# reader of the screen. It cannot add or edit a key (`drf_create_token` does);
# deleting one revokes it.

KEY_SHOWN_CHARS = 6


def masked_key(key: str) -> str:
    """Return the key's first characters and an ellipsis."""
    return f"{key[:KEY_SHOWN_CHARS]}…" if key else ""


# The admin prints str(object) in titles, breadcrumbs, delete pages and the
# LogEntry it stores; DRF's Token.__str__ is the key. TokenProxy exists only for
# the admin, so its str becomes the masked key (Token itself is unchanged).
def _token_str(token: TokenProxy) -> str:
    return masked_key(token.key)


TokenProxy.__str__ = _token_str


class MaskedTokenAdmin(ViewOnlyMixin, DRFTokenAdmin):
    """Who has an API key and since when, the key masked; read-only but for revoking."""

    list_display = ("key_prefix", "user", "created")
    fields = ("key_prefix", "user", "created")
    readonly_fields = ("key_prefix", "user", "created")

    @admin.display(description="key")
    def key_prefix(self, token: TokenProxy) -> str:
        return masked_key(token.key)


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, MaskedTokenAdmin)
