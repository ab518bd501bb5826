from django.apps import AppConfig
from django.utils import timezone


class AgentsConfig(AppConfig):
    """The planner/executor engine."""

    name = "agents"
    verbose_name = "Agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from agents import checks, receivers  # noqa: F401 (registers the system checks and signal receivers)

        # When this process started: queued runs older than this were left by an earlier one (the sweeper).
        self.started_at = timezone.now()
