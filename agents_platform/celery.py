"""The Celery application: ``AGENT_RUNNER=celery`` sends runs here; ``make worker`` executes them.

Configured from Django's settings (the ``CELERY_`` ones in settings.py). It
carries only "run this id"; the database decides who runs it.
https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agents_platform.settings")

app = Celery("agents_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.imports = ("agents.runtime.tasks",)
