"""The Celery app. With REDIS_URL set it uses Redis as broker; without it (embedded mode)
tasks run eagerly in-process and periodic jobs run on oneproxy.embedded's scheduler."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneproxy.settings")

app = Celery("oneproxy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
