"""Installed instead of django.contrib.admin so that `admin.site` is OneProxy's site.
Kept apart from admin_site.py, which imports models and so cannot load this early."""

from django.contrib.admin.apps import AdminConfig


class OneProxyAdminConfig(AdminConfig):
    default_site = "oneproxy.admin_site.OneProxyAdminSite"
