from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agents.http.history import SessionRunListApi
from sessions.views import chat

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/agent/", include("agents.urls")),
    # Before the sessions include: the runs list reads the engine's models, so it lives in agents.
    # A str id (not uuid) so a malformed id gets the JSON 404, as on every other session route.
    path("api/sessions/<str:session_id>/runs/", SessionRunListApi.as_view(), name="session-runs"),
    path("api/sessions/", include("sessions.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", chat, name="chat"),
]
