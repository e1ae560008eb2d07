"""Logs, redemption codes and daily usage rollups in the admin."""

import csv

from django.contrib import admin, messages
from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..forms import GenerateCodesForm
from ..models import DailyUsage, Log, Redemption
from .base import OperatorAdmin, OwnedAdmin, ReadOnlyAdmin, is_operator, is_root, quota_text

LOG_CSV_COLUMNS = (
    "created_at", "type", "username", "token_name", "channel_id", "model", "group_name",
    "prompt_tokens", "completion_tokens", "cached_tokens", "quota", "is_stream",
    "elapsed_ms", "ttfb_ms", "request_id", "client_ip", "status_code", "error", "content",
)  # fmt: skip
# Which upstream account served a request is the operator's business: self-service users
# never see these fields, in lists, detail pages, filters or exports.
OPERATOR_ONLY_LOG_FIELDS = frozenset({"channel", "channel_id", "channels_tried"})


class _Echo:
    """csv.writer target that hands each line back instead of buffering it."""

    def write(self, value):
        return value


def stream_csv(header, rows, filename):
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _prepend(header, rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _prepend(first, rest):
    yield first
    yield from rest


@admin.register(Log)
class LogAdmin(OwnedAdmin):
    """Read-only history. Self-service users see their own rows, without channel details."""

    self_service_can_edit = False
    date_hierarchy = "created_at"
    show_full_result_count = False  # COUNT(*) over a big log table is the slow part
    list_per_page = 50
    list_display = (
        "created_at", "type", "username", "token_name", "model", "channel",
        "prompt_tokens", "completion_tokens", "cached_tokens", "quota_display",
        "elapsed_ms", "is_stream", "status_code",
    )  # fmt: skip
    list_filter = ("type", "is_stream", "status_code", "channel")
    search_fields = ("=username", "=token_name", "=model", "=request_id")
    list_select_related = ("channel",)
    actions = ("export_csv",)

    @admin.display(description=_("quota"), ordering="quota")
    def quota_display(self, obj):
        return quota_text(obj.quota)

    def get_list_display(self, request):
        if is_operator(request.user):
            return self.list_display
        return [f for f in self.list_display if f not in ("channel", "username")]

    def get_list_filter(self, request):
        return self.list_filter if is_operator(request.user) else ("type", "is_stream")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return is_root(request.user)

    def get_fields(self, request, obj=None):
        fields = self._visible(request, [f.name for f in self.model._meta.fields])
        if obj is None or is_operator(request.user) or obj.content_for(operator=False):
            return fields
        return [f for f in fields if f != "content"]  # a request row's upstream answer

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def lookup_allowed(self, lookup, value, request=None):
        """Users may not filter by channel: matching rows would tell them its id."""
        hidden = lookup.split("__")[0] in OPERATOR_ONLY_LOG_FIELDS
        if hidden and request is not None and not is_operator(request.user):
            return False
        return super().lookup_allowed(lookup, value, request)

    @staticmethod
    def _visible(request, names):
        if is_operator(request.user):
            return list(names)
        return [name for name in names if name not in OPERATOR_ONLY_LOG_FIELDS]

    @admin.action(description=_("Export selected logs as CSV"))
    def export_csv(self, request, queryset):
        columns = self._visible(request, LOG_CSV_COLUMNS)
        operator = is_operator(request.user)
        rows = (
            [log.content_for(operator) if column == "content" else getattr(log, column)
             for column in columns]
            for log in queryset.order_by("-created_at").iterator(chunk_size=2000)
        )
        return stream_csv(columns, rows, "logs.csv")


@admin.register(Redemption)
class RedemptionAdmin(OperatorAdmin):
    list_display = (
        "name", "code_display", "quota_display", "status", "created_by", "created_at",
        "redeemed_by", "redeemed_at",
    )  # fmt: skip
    list_filter = ("status", "created_at")
    search_fields = ("name", "=code", "redeemed_by__username")
    list_select_related = ("created_by", "redeemed_by")
    readonly_fields = ("code", "created_by", "created_at", "redeemed_by", "redeemed_at")
    actions = ("download_csv",)
    change_list_template = "admin/billing/redemption/change_list.html"

    @admin.display(description=_("code"))
    def code_display(self, obj):
        return f"{obj.code[:6]}…"

    @admin.display(description=_("quota"), ordering="quota")
    def quota_display(self, obj):
        return quota_text(obj.quota)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        view = self.admin_site.admin_view(self.generate_view)
        return [path("generate/", view, name="billing_redemption_generate"), *super().get_urls()]

    def generate_view(self, request):
        """Generate N codes at once and answer with them as a CSV download."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                codes = services.generate_redemptions(
                    data["count"], data["quota"], name=data["name"], by=request.user
                )
            except services.BillingError as exc:
                messages.error(request, str(exc))
            else:
                stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
                return _codes_csv(codes, f"redemption-codes-{stamp}.csv")
        return TemplateResponse(request, "admin/action_form.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Generate redemption codes"),
            "form": form, "opts": self.model._meta, "standalone": True,
        })  # fmt: skip

    @admin.action(description=_("Download selected codes as CSV"))
    def download_csv(self, request, queryset):
        return _codes_csv(queryset, "redemption-codes.csv")


def _codes_csv(codes, filename):
    rows = ([c.code, c.name, c.quota, str(c.status)] for c in codes)
    return stream_csv(("code", "name", "quota", "status"), rows, filename)


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    date_hierarchy = "day"
    show_full_result_count = False
    list_display = (
        "day", "user_id", "token_id", "channel_id", "model", "requests", "errors",
        "prompt_tokens", "completion_tokens", "quota_display",
    )  # fmt: skip
    list_filter = ("day",)
    search_fields = ("=model", "=user_id")
    list_select_related = False  # plain ids, no foreign keys

    @admin.display(description=_("quota"), ordering="quota")
    def quota_display(self, obj):
        return quota_text(obj.quota)
