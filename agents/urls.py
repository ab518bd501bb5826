"""URLs of the agent API, mounted at /api/agent/.

Run ids are ``str``, not ``uuid``: a malformed id reaches the user-scoped
selector and answers the contract's JSON 404, not Django's HTML one.
"""

from django.urls import path

from agents.http import approvals as approval_apis
from agents.http import runs as apis
from agents.http import streams as views

app_name = "agents"

urlpatterns = [
    path("stream", views.agent_stream, name="stream"),
    path("runs/<str:run_id>/stream", views.run_stream, name="run-stream"),
    path("runs/<str:run_id>/cancel", apis.RunCancelApi.as_view(), name="run-cancel"),
    path("runs/<str:run_id>/approvals", approval_apis.ApprovalListApi.as_view(), name="run-approvals"),
    path(
        "runs/<str:run_id>/approvals/<str:approval_id>",
        approval_apis.ApprovalDecideApi.as_view(),
        name="run-approval-decide",
    ),
    path("runs/<str:run_id>", apis.RunDetailApi.as_view(), name="run-detail"),
]
