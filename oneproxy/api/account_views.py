"""Caller-centred endpoints: redeem a code for yourself, and usage rollups."""

import datetime

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import services
from billing.models import DailyUsage, Token

from .base import AUTHENTICATION, refused
from .permissions import OwnerOrStaff, is_staff


class RedeemRequest(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class RedeemResponse(serializers.Serializer):
    added = serializers.IntegerField()
    quota = serializers.IntegerField(help_text=_("Your balance after redeeming."))


class RedeemView(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [OwnerOrStaff]

    @extend_schema(request=RedeemRequest, responses=RedeemResponse)
    def post(self, request):
        """Redeem a code for the calling user (each code works once)."""
        body = RedeemRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            added = services.redeem(request.user, body.validated_data["code"])
        except services.BillingError as exc:
            raise refused(exc, "code") from None
        request.user.refresh_from_db(fields=["quota"])
        return Response({"added": added, "quota": request.user.quota})


DIMENSIONS = {"day": "day", "model": "model", "token": "token_id", "user": "user_id",
              "channel": "channel_id"}
STAFF_ONLY_DIMENSIONS = {"user", "channel"}
TOTALS = ("requests", "errors", "prompt_tokens", "completion_tokens", "quota")


class UsageQuery(serializers.Serializer):
    start = serializers.DateField(required=False, help_text=_("Default: 30 days ago."))
    end = serializers.DateField(required=False, help_text=_("Inclusive; default: today."))
    group_by = serializers.CharField(
        required=False, default="day",
        help_text=_("Comma list of day, model, token (staff also: user, channel)."),
    )
    user = serializers.IntegerField(required=False, help_text=_("Staff only."))
    token = serializers.IntegerField(required=False)
    model = serializers.CharField(required=False)

    def validate_group_by(self, value):
        dims = [d.strip() for d in value.split(",") if d.strip()]
        unknown = [d for d in dims if d not in DIMENSIONS]
        if unknown or not dims:
            raise serializers.ValidationError(
                _("Choose from: %(dims)s.") % {"dims": ", ".join(DIMENSIONS)}
            )
        return list(dict.fromkeys(dims))


class UsageRow(serializers.Serializer):
    day = serializers.DateField(required=False)
    model = serializers.CharField(required=False)
    token = serializers.IntegerField(required=False)
    token_name = serializers.CharField(required=False)
    user = serializers.IntegerField(required=False)
    channel = serializers.IntegerField(required=False)
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    quota = serializers.IntegerField()


class UsageResponse(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ListField(child=serializers.CharField())
    results = UsageRow(many=True)
    totals = serializers.DictField(child=serializers.IntegerField())


class UsageView(APIView):
    """Daily rollups (billing.DailyUsage): never a scan of the raw log table."""

    authentication_classes = AUTHENTICATION
    permission_classes = [OwnerOrStaff]

    @extend_schema(parameters=[UsageQuery], responses=UsageResponse)
    def get(self, request):
        query = UsageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        staff = is_staff(request.user)
        if not staff and (set(q["group_by"]) & STAFF_ONLY_DIMENSIONS or "user" in q):
            raise exceptions.PermissionDenied(_("Only staff may see other users' usage."))
        end = q.get("end") or timezone.localdate()
        start = q.get("start") or end - datetime.timedelta(days=30)
        if start > end:
            raise exceptions.ValidationError({"start": [_("Start is after end.")]})
        rows = DailyUsage.objects.filter(day__gte=start, day__lte=end)
        user_id = q.get("user") if staff else request.user.pk
        filters = {"user_id": user_id, "token_id": q.get("token"), "model": q.get("model")}
        rows = rows.filter(**{k: v for k, v in filters.items() if v is not None})
        dims = [DIMENSIONS[d] for d in q["group_by"]]
        rows = rows.values(*dims).annotate(**{t: Sum(t) for t in TOTALS}).order_by(*dims)
        results = [self._row(row, q["group_by"]) for row in rows]
        self._name_tokens(results)
        totals = {t: sum(r[t] for r in results) for t in TOTALS}
        return Response({"start": start, "end": end, "group_by": q["group_by"],
                         "results": results, "totals": totals})

    @staticmethod
    def _row(row: dict, group_by: list[str]) -> dict:
        out = {dim: row[DIMENSIONS[dim]] for dim in group_by}
        out.update({t: row[t] or 0 for t in TOTALS})
        return out

    @staticmethod
    def _name_tokens(results: list[dict]) -> None:
        ids = {r["token"] for r in results if r.get("token")}
        if not ids:
            return
        names = dict(Token.objects.filter(pk__in=ids).values_list("pk", "name"))
        for r in results:
            if "token" in r:
                r["token_name"] = names.get(r["token"], "")
