"""/v1 routes (included by oneproxy/urls.py under `v1/`)."""

from django.urls import path, re_path

from providers.base import Endpoint
from relay import views

urlpatterns = [
    *(path(e.path, views.endpoint_view(e), name=f"relay-{e.value}")
      for e in Endpoint if e is not Endpoint.models),
    path("models", views.list_models, name="relay-models"),
    path("models/<path:model_id>", views.retrieve_model, name="relay-model"),
    re_path(r"^(?P<rest>.*)$", views.unknown, name="relay-unknown"),
]
