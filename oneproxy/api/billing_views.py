"""Viewsets for users, groups, tokens, prices, redemptions and logs."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import roles, services
from billing.models import QUOTA_MAX, Group, Log, Price, Redemption, Token, User

from . import billing_serializers as s
from .base import FILTERS, ModelViewSet, ReadOnlyModelViewSet, refused
from .permissions import (
    IsStaff,
    ManagesAccount,
    ManagesTokenOwner,
    OwnerOrStaff,
    StaffWritesOthersRead,
    is_staff,
)


class UserFilter(django_filters.FilterSet):
    group = django_filters.CharFilter(field_name="group__name")

    class Meta:
        model = User
        fields = ["role", "status", "group"]


class TopUpSerializer(serializers.Serializer):
    quota = serializers.IntegerField(min_value=1, max_value=QUOTA_MAX,
                                     help_text=_("Quota units to add."))
    note = serializers.CharField(required=False, default="", max_length=255)


class BalanceSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    quota = serializers.IntegerField(help_text=_("Remaining balance after the change."))
    added = serializers.IntegerField()


class UserViewSet(ModelViewSet):
    """Staff see every user; who may change whom is `billing.roles`' rule (ManagesAccount).
    Others see only themselves (their balance) and may change their own password."""

    serializer_class = s.UserSerializer
    permission_classes = [ManagesAccount]
    filterset_class = UserFilter
    search_fields = ["username", "display_name", "email"]
    ordering_fields = ["id", "username", "quota", "used_quota", "request_count", "date_joined"]
    ordering = ["id"]

    def get_queryset(self):
        return self.owned(User.objects.select_related("group"), "pk")

    def perform_destroy(self, instance):
        if instance.pk == self.request.user.pk:
            raise exceptions.ValidationError([_("You cannot delete yourself.")])
        super().perform_destroy(instance)

    @extend_schema(responses=s.UserSerializer)
    @action(detail=False, methods=["get"], permission_classes=[OwnerOrStaff])
    def me(self, request):
        """The calling user, with their balance."""
        return Response(self.get_serializer(request.user).data)

    @extend_schema(request=TopUpSerializer, responses=BalanceSerializer)
    @action(detail=True, methods=["post"], permission_classes=[ManagesAccount])
    def topup(self, request, pk=None):
        """Add quota to a user's balance; writes a top-up log row."""
        user = self.get_object()
        body = TopUpSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.top_up(user, body.validated_data["quota"], by=request.user,
                            note=body.validated_data["note"])
        except services.BillingError as exc:
            raise refused(exc, "quota") from None
        user.refresh_from_db(fields=["quota"])
        return Response({"user": user.pk, "quota": user.quota,
                         "added": body.validated_data["quota"]})


class GroupViewSet(ModelViewSet):
    serializer_class = s.GroupSerializer
    permission_classes = [StaffWritesOthersRead]
    queryset = Group.objects.all()
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "ratio"]
    ordering = ["name"]

    def perform_destroy(self, instance):
        if instance.name == "default":
            raise exceptions.ValidationError([_("The default group cannot be deleted.")])
        super().perform_destroy(instance)


class TokenViewSet(ModelViewSet):
    """Client API keys. The key itself appears only in create and regenerate responses."""

    serializer_class = s.TokenSerializer
    permission_classes = [ManagesTokenOwner]
    filterset_fields = ["status", "user", "unlimited_quota"]
    search_fields = ["name", "key_prefix"]
    ordering_fields = ["id", "name", "created_at", "last_used_at", "used_quota", "remain_quota"]
    ordering = ["-id"]

    def get_queryset(self):
        return self.owned(Token.objects.all())

    @extend_schema(responses={201: s.TokenWithKeySerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        owner = fields.pop("user", None) or request.user
        if not roles.may_own_tokens_of(request.user, owner):
            raise exceptions.ValidationError(
                {"user": [_("Only root creates tokens for admin and root accounts.")]}
            )
        name = fields.pop("name")
        try:
            token, key = services.create_token(owner, name, **fields)
        except DjangoValidationError as exc:
            raise s.django_errors(exc) from None
        data = s.TokenWithKeySerializer(token, context=self.get_serializer_context()).data
        return Response({**data, "key": key}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.TokenWithKeySerializer)
    @action(detail=True, methods=["post"])
    def regenerate(self, request, pk=None):
        """Replace the token's key; the old key stops working at once."""
        token = self.get_object()
        key = services.regenerate_token_key(token)
        data = s.TokenWithKeySerializer(token, context=self.get_serializer_context()).data
        return Response({**data, "key": key})


class PriceViewSet(ModelViewSet):
    serializer_class = s.PriceSerializer
    permission_classes = [StaffWritesOthersRead]
    queryset = Price.objects.all()
    filterset_fields = ["model", "provider"]
    search_fields = ["model", "provider"]
    ordering_fields = ["model", "input_price", "output_price", "updated_at"]
    ordering = ["model"]


class RedemptionViewSet(ModelViewSet):
    serializer_class = s.RedemptionSerializer
    permission_classes = [IsStaff]
    queryset = Redemption.objects.all()
    filterset_fields = ["status", "name"]
    search_fields = ["name", "code"]
    ordering_fields = ["id", "created_at", "redeemed_at", "quota"]
    ordering = ["-id"]

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(request=s.RedemptionBatchSerializer,
                   responses={201: s.RedemptionSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        """Create `count` random codes worth `quota` each."""
        body = s.RedemptionBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            codes = services.generate_redemptions(**body.validated_data, by=request.user)
        except services.BillingError as exc:
            raise refused(exc) from None
        return Response(s.RedemptionSerializer(codes, many=True).data,
                        status=status.HTTP_201_CREATED)


class LogFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Log
        fields = ["type", "model", "user", "token", "channel", "request_id", "status_code"]

    def is_valid(self):
        """Only staff filter by channel: for anyone else the rows that match would tell
        which upstream account served them."""
        if not super().is_valid():
            return False
        user = getattr(self.request, "user", None)
        if self.data.get("channel") not in (None, "") and not is_staff(user):
            self.form.add_error("channel", _("Only operators may filter logs by channel."))
            return False
        return True


class LogPagination(pagination.CursorPagination):
    """Log tables grow large: a cursor never counts or offsets through them."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class LogViewSet(ReadOnlyModelViewSet):
    """Request and event history. Users see only their own rows."""

    serializer_class = s.LogSerializer
    permission_classes = [OwnerOrStaff]
    filterset_class = LogFilter
    pagination_class = LogPagination
    filter_backends = FILTERS[:2]  # newest first, by cursor: no client-chosen ordering

    def get_queryset(self):
        return self.owned(Log.objects.all())

    @property
    def search_fields(self) -> list[str]:
        # Users may not search what they cannot see (a request row's upstream answer).
        fields = ["model", "username", "token_name"]
        user = getattr(getattr(self, "request", None), "user", None)  # None: schema
        return fields if user is not None and not is_staff(user) else [*fields, "content"]
