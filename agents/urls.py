"""URLs of the agent API, mounted at /api/agent/."""

app_name = "agents"

urlpatterns: list = []
