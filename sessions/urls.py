"""URLs of the session history API, mounted at /api/sessions/.

``GET /api/sessions/<id>/runs/`` lives in the agents app (agents →
sessions is the only allowed dependency) and is routed from the root URLconf.
"""

from django.urls import path

from . import apis

app_name = "sessions"

urlpatterns = [
    path("", apis.SessionListApi.as_view(), name="session-list"),
    path("<str:session_id>/", apis.SessionDetailApi.as_view(), name="session-detail"),
    path("<str:session_id>/messages/", apis.SessionMessageListApi.as_view(), name="session-messages"),
]
