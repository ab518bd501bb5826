"""WSGI entry point, for management tooling; serve the platform with ASGI (asgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agents_platform.settings")

application = get_wsgi_application()
