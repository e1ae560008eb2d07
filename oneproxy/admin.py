"""Periodic jobs (django-celery-beat's tables) in the admin, for operators by role.

django-celery-beat registers its model admins with Django's permission rows, which only
the superuser holds; OneProxy's roles decide instead, so admin-role operators see, pause
and re-time the jobs like every other operator page (README: background jobs).
"""

import django_celery_beat.admin as beat_admin
from django.contrib import admin

from billing.admin.base import OperatorPermissions


class PeriodicTaskInline(OperatorPermissions, beat_admin.PeriodicTaskInline):
    """The read-only list of jobs under a schedule: shown to operators."""

    def has_add_permission(self, request, obj=None):
        return False  # as upstream: jobs are added on their own page


def _by_role(model, model_admin) -> None:
    """Register `model` again with its upstream admin class plus the operator rule."""
    attrs = {"__module__": __name__}
    if beat_admin.PeriodicTaskInline in getattr(model_admin, "inlines", ()):
        attrs["inlines"] = [PeriodicTaskInline]
    cls = type(type(model_admin).__name__, (OperatorPermissions, type(model_admin)), attrs)
    admin.site.unregister(model)
    admin.site.register(model, cls)


for _model, _model_admin in list(admin.site._registry.items()):
    if _model._meta.app_label == "django_celery_beat":
        _by_role(_model, _model_admin)
