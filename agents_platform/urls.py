from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from agents.http.agui import agui_rejoin, agui_run
from agents.http.aisdk import chat as aisdk_chat
from agents.http.aisdk import chat_stream as aisdk_chat_stream
from agents.http.chat_page import chat_page
from agents.http.history import SessionRunListApi
from agents.http.observability import MetricsApi, StatsApi
from agents.http.session_feed import session_stream
from agents.http.usage import UsageApi

from . import views
from .login_throttle import throttle_failed_logins

admin.site.site_header = "Agents platform administration"
admin.site.site_title = "Agents platform admin"
admin.site.index_title = "Runs, agents, chats and users"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # Pages without an icon link (the admin's) make browsers ask for /favicon.ico.
    path("favicon.ico", RedirectView.as_view(url=static("chat/favicon.svg"))),
    path("accounts/login/", throttle_failed_logins(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before the admin's own URLs, so its login page takes the same limits (reverse("admin:login") is this path).
    path("admin/login/", throttle_failed_logins(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/agent/", include("agents.urls")),
    path("api/ag-ui", agui_run, name="ag-ui"),
    path("api/ag-ui/runs/<str:run_id>", agui_rejoin, name="ag-ui-run"),
    path("api/ai-sdk/chat", aisdk_chat, name="ai-sdk-chat"),
    path("api/ai-sdk/chat/<str:chat_id>/stream", aisdk_chat_stream, name="ai-sdk-chat-stream"),
    # Before the sessions include: the runs list reads the engine's models, so it lives in agents.
    # A str id (not uuid) so a malformed id gets the JSON 404, as on every other session route.
    path("api/sessions/<str:session_id>/runs/", SessionRunListApi.as_view(), name="session-runs"),
    path("api/sessions/<str:session_id>/stream", session_stream, name="session-stream"),
    path("api/sessions/", include("sessions.urls")),
    path("api/usage/", UsageApi.as_view(), name="usage"),
    path("api/stats/", StatsApi.as_view(), name="stats"),
    path("metrics", MetricsApi.as_view(), name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("", chat_page, name="chat"),
]
