from django.apps import AppConfig


class ChatSessionsConfig(AppConfig):
    """Chat sessions and their messages.

    The label is ``chat_sessions`` because ``django.contrib.sessions`` owns
    ``sessions``; the import path stays ``sessions``.
    """

    name = "sessions"
    label = "chat_sessions"
    verbose_name = "Chat sessions"
    default_auto_field = "django.db.models.BigAutoField"
