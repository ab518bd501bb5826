from django.apps import AppConfig


class AgentsConfig(AppConfig):
    """The planner/executor engine."""

    name = "agents"
    verbose_name = "Agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from agents import checks  # noqa: F401 (registers the system checks)
