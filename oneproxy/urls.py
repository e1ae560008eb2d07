from django.contrib import admin
from django.urls import include, path

from relay.metrics import metrics_view

from . import probes

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language for the admin switch
    path("admin/", admin.site.urls),
    path("api/", include("oneproxy.api.urls")),
    path("v1/", include("relay.urls")),
    path("metrics", metrics_view, name="metrics"),
]
