"""URLs of the session history API, mounted at /api/sessions/."""

app_name = "sessions"

urlpatterns: list = []
