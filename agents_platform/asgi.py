"""ASGI entry point: serve with uvicorn (``uvicorn agents_platform.asgi:application``).

Static files are served by Django's own ASGI static handler, so the embedded
platform needs no second server; a production deployment puts a CDN or a
reverse proxy in front of ``collectstatic``'s output instead.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agents_platform.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (settings are ready only after setup)
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

application = ASGIStaticFilesHandler(django_application) if settings.SERVE_STATIC else django_application
