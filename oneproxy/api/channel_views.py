"""Channels: CRUD, plus test-now and balance-refresh actions (channels_app.services)."""

import dataclasses
from decimal import Decimal

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from channels_app import services as channel_services
from channels_app.models import Channel

from .base import ModelViewSet
from .channel_serializers import ChannelSerializer
from .permissions import IsStaff


class ChannelFilter(django_filters.FilterSet):
    group = django_filters.CharFilter(field_name="groups__name")
    model = django_filters.CharFilter(field_name="model_names", lookup_expr="icontains")

    class Meta:
        model = Channel
        fields = ["type", "status", "tag", "group", "model"]


class ChannelTestRequest(serializers.Serializer):
    model = serializers.CharField(required=False, help_text=_("Default: the test model."))


class ChannelTestResponse(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField(allow_null=True)
    model = serializers.CharField(allow_blank=True)
    status = serializers.IntegerField(allow_null=True, help_text=_("Upstream HTTP status."))
    message = serializers.CharField(allow_blank=True)
    channel_status = serializers.CharField()


class BalanceResponse(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True,
                                       coerce_to_string=False)
    balance_updated_at = serializers.DateTimeField(allow_null=True)


def _jsonable(value):
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ChannelViewSet(ModelViewSet):
    """Upstream accounts. Keys are write-only; reads show them masked with their status."""

    serializer_class = ChannelSerializer
    permission_classes = [IsStaff]
    filterset_class = ChannelFilter
    search_fields = ["name", "base_url", "tag"]
    ordering_fields = ["id", "name", "priority", "weight", "response_ms", "balance",
                       "used_quota", "created_at"]
    ordering = ["-priority", "name"]

    def get_queryset(self):
        return Channel.objects.prefetch_related("groups", "keys").distinct()

    @extend_schema(request=ChannelTestRequest, responses=ChannelTestResponse)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send one test request now; records the result and latency on the channel."""
        channel = self.get_object()
        body = ChannelTestRequest(data=request.data)
        body.is_valid(raise_exception=True)
        result = channel_services.test_channel(channel, model=body.validated_data.get("model"))
        channel.refresh_from_db()
        data = {k: _jsonable(v) for k, v in dataclasses.asdict(result).items()}
        return Response({**data, "channel_status": channel.status})

    @extend_schema(request=None, responses=BalanceResponse)
    @action(detail=True, methods=["post"])
    def balance(self, request, pk=None):
        """Ask the provider for the account balance now (USD; null if unsupported)."""
        channel = self.get_object()
        balance = channel_services.refresh_balance(channel)
        channel.refresh_from_db(fields=["balance", "balance_updated_at"])
        return Response({
            "balance": _jsonable(balance),
            "balance_updated_at": _jsonable(channel.balance_updated_at or timezone.now()
                                            if balance is not None else None),
        })
