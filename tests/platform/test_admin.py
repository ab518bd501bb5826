"""The API token admin shows who has a key, never the key itself."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(make_user):
    return [Token.objects.create(user=make_user(name)) for name in ("alice", "bob")]


def test_token_pages_never_show_a_full_key(admin_client, tokens):
    changelist = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    assert changelist.status_code == 200
    pages = [changelist]
    for token in tokens:
        for view in ("change", "history", "delete"):
            page = admin_client.get(reverse(f"admin:authtoken_tokenproxy_{view}", args=[token.user_id]))
            assert page.status_code == 200, view
            pages.append(page)
    text = "".join(page.content.decode() for page in pages)
    for token in tokens:
        assert token.key not in text
        assert token.key[7:] not in text, "not even most of it"
        assert f"{token.key[:6]}…" in text, "its first characters tell the keys apart"
    assert "alice" in changelist.content.decode() and "bob" in changelist.content.decode()


def test_token_admin_is_read_only_but_can_revoke(admin_client, tokens):
    assert admin_client.get(reverse("admin:authtoken_tokenproxy_add")).status_code == 403
    token = tokens[0]
    change_url = reverse("admin:authtoken_tokenproxy_change", args=[token.user_id])
    page = admin_client.get(change_url).content.decode()
    assert 'name="user"' not in page, "no editable field"
    admin_client.post(change_url, {"user": tokens[1].user_id})
    assert Token.objects.get(user_id=token.user_id).key == token.key

    delete_url = reverse("admin:authtoken_tokenproxy_delete", args=[token.user_id])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Token.objects.filter(key=token.key).exists()
    entry = LogEntry.objects.get()
    assert token.key not in entry.object_repr and entry.object_repr == f"{token.key[:6]}…"


def test_no_help_text_points_outside_the_repository():
    """The admin shows every field's help text: it may name README.md (in the repository), no other document."""
    import re

    from django.apps import apps
    from django.contrib import admin

    texts = [
        (f"{model.__name__}.{field.name}", str(field.help_text))
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if getattr(field, "help_text", "")
    ]
    for model_admin in admin.site._registry.values():
        for name in dir(model_admin):
            description = getattr(getattr(model_admin, name, None), "short_description", "")
            if description:
                texts.append((f"{type(model_admin).__name__}.{name}", str(description)))
    assert len(texts) > 20
    outside = [
        (where, text) for where, text in texts if re.search(r"\b(?!README\.md)[\w-]+\.md\b|/work/|issue \d", text)
    ]
    assert not outside
