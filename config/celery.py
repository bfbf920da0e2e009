"""The Celery application. Its settings come from Django's (the CELERY_ prefix)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("basketry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
