"""Runtime options (billing.option_specs.OPTION_SPECS) as typed values: list, read, set, reset."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.response import Response

from billing.models import Option
from billing.option_specs import OPTION_SPECS, check_range, load_all

from .base import AUTHENTICATION
from .permissions import IsStaff

TYPE_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def typed_value(key: str, value):
    """`value` as the option's type (a quota option within 0..QUOTA_MAX); raises
    ValidationError rather than guessing."""
    kind = OPTION_SPECS[key].type
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        try:
            return check_range(key, value)
        except ValueError as exc:
            raise serializers.ValidationError({"value": [str(exc)]}, code="range") from None
    raise serializers.ValidationError(
        {"value": [_("Expected a %(type)s.") % {"type": TYPE_NAMES[kind]}]}
    )


class OptionSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    value = serializers.JSONField()
    default = serializers.JSONField(read_only=True)
    type = serializers.ChoiceField(choices=sorted(TYPE_NAMES.values()), read_only=True)
    help = serializers.CharField(read_only=True)


def _describe(key: str, values: dict) -> dict:
    spec = OPTION_SPECS[key]
    return {"key": key, "value": values[key], "default": spec.default,
            "type": TYPE_NAMES[spec.type], "help": str(spec.help)}


KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, enum=sorted(OPTION_SPECS))


class OptionViewSet(viewsets.GenericViewSet):
    """Every known option with its current value, paginated like every list; PATCH sets
    it, DELETE resets it."""

    authentication_classes = AUTHENTICATION
    permission_classes = [IsStaff]
    serializer_class = OptionSerializer
    lookup_field = "key"
    lookup_value_regex = "[a-z0-9_]+"

    @staticmethod
    def _spec_or_404(key: str) -> None:
        if key not in OPTION_SPECS:
            raise exceptions.NotFound(_("No option named %(key)s.") % {"key": key})

    @extend_schema(responses=OptionSerializer(many=True))
    def list(self, request):
        values = load_all()
        page = self.paginate_queryset([_describe(key, values) for key in sorted(OPTION_SPECS)])
        return self.get_paginated_response(page)

    @extend_schema(parameters=[KEY], responses=OptionSerializer)
    def retrieve(self, request, key=None):
        self._spec_or_404(key)
        return Response(_describe(key, load_all()))

    @extend_schema(parameters=[KEY], request=OptionSerializer, responses=OptionSerializer)
    def partial_update(self, request, key=None):
        self._spec_or_404(key)
        body = OptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        value = typed_value(key, body.validated_data["value"])
        # A model save, so the "options" cache topic is bumped like an admin edit.
        Option.objects.update_or_create(key=key, defaults={"value": value})
        return Response(_describe(key, load_all()))

    @extend_schema(parameters=[KEY], responses={204: None})
    def destroy(self, request, key=None):
        """Back to the default value."""
        self._spec_or_404(key)
        for row in Option.objects.filter(key=key):
            row.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
