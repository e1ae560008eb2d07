"""Channels: CRUD, plus test-now and balance-refresh actions (channels_app.services)."""

import dataclasses

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from channels_app import services as channel_services
from channels_app.models import Channel, ChannelStatus

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


class KeyTestSerializer(serializers.Serializer):
    key_id = serializers.IntegerField()
    ok = serializers.BooleanField()
    response_ms = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    status = serializers.IntegerField(allow_null=True, help_text=_("Upstream HTTP status."))
    key_invalid = serializers.BooleanField()


class ChannelTestResponse(serializers.Serializer):
    channel_id = serializers.IntegerField()
    model = serializers.CharField()
    ok = serializers.BooleanField()
    response_ms = serializers.IntegerField(help_text=_("Latency of the test request."))
    error = serializers.CharField(allow_blank=True)
    keys = KeyTestSerializer(many=True)
    status = serializers.ChoiceField(choices=ChannelStatus.choices,
                                     help_text=_("The channel's status after the test."))


class BalanceResponse(serializers.Serializer):
    supported = serializers.BooleanField(help_text=_("False: the provider has no balance API."))
    balance = serializers.DecimalField(max_digits=16, decimal_places=4, allow_null=True,
                                       coerce_to_string=False)
    currency = serializers.CharField(allow_blank=True)
    balance_updated_at = serializers.DateTimeField(allow_null=True)


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
        """Send one test request through each key now; records result and latency, and may
        auto-disable dead keys or re-enable an auto-disabled channel that passes."""
        channel = self.get_object()
        body = ChannelTestRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = channel_services.test_channel(channel, model=body.validated_data.get("model"))
        except channel_services.ChannelError as exc:
            raise exceptions.ValidationError({"model": [str(exc)]}) from None
        return Response(ChannelTestResponse(dataclasses.asdict(result)).data)

    @extend_schema(request=None, responses=BalanceResponse)
    @action(detail=True, methods=["post"])
    def balance(self, request, pk=None):
        """Ask the provider for the account balance now and store it on the channel."""
        channel = self.get_object()
        try:
            balance = channel_services.refresh_balance(channel)
        except channel_services.ChannelError as exc:
            raise exceptions.ValidationError([str(exc)]) from None
        channel.refresh_from_db(fields=["balance", "balance_currency", "balance_updated_at"])
        return Response(BalanceResponse({
            "supported": balance is not None,
            "balance": balance,
            "currency": channel.balance_currency if balance is not None else "",
            "balance_updated_at": channel.balance_updated_at if balance is not None else None,
        }).data)
