"""Channels, their keys and the routing index in the admin. Keys are never listed: lists
show a masked form, and the edit form never sends a stored key back to the browser."""

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from billing.admin.base import OperatorAdmin, ReadOnlyAdmin, is_operator, quota_text

from . import services
from .forms import ChannelForm, ChannelKeyForm
from .models import Ability, Channel, ChannelKey, ChannelStatus, KeyStatus


class ChannelKeyInline(admin.TabularInline):
    model = ChannelKey
    form = ChannelKeyForm
    extra = 1
    fields = ("key", "status", "status_reason", "tested_at", "response_ms", "last_error")
    readonly_fields = ("tested_at", "response_ms", "last_error")

    # Role-based like every OneProxy admin, not Django's per-model permission rows.
    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission


@admin.register(Channel)
class ChannelAdmin(OperatorAdmin):
    form = ChannelForm
    inlines = (ChannelKeyInline,)
    list_display = (
        "name", "type", "status", "priority", "weight", "group_list", "keys_display",
        "response_ms", "balance_display", "used_display", "tested_at", "tag",
    )  # fmt: skip
    list_filter = ("status", "type", "groups", "tag")
    search_fields = ("name", "tag", "base_url")
    list_select_related = False  # no foreign keys; groups are prefetched, keys annotated
    readonly_fields = (
        "status_changed_at", "tested_at", "response_ms", "balance_display", "balance_updated_at",
        "used_display", "created_at",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("type", "name", "tag", "base_url", "config")}),
        (_("Models and routing"), {
            "fields": ("model_names", "model_mapping", "groups", "priority", "weight",
                       "test_model")
        }),
        (_("Status"), {"fields": ("status", "status_reason", "status_changed_at", "new_keys")}),
        (_("Health and balance"), {"fields": (
            "tested_at", "response_ms", "balance_display", "balance_threshold",
            "balance_updated_at", "used_display", "created_at",
        )}),
    )  # fmt: skip
    filter_horizontal = ("groups",)
    actions = ("enable", "disable", "test_now", "refresh_balances", "duplicate")

    def get_queryset(self, request):
        enabled = Q(keys__status=KeyStatus.ENABLED)
        return (
            super()
            .get_queryset(request)
            .prefetch_related("groups")
            .annotate(n_keys=Count("keys"), n_enabled_keys=Count("keys", filter=enabled))
        )

    @admin.display(description=_("groups"))
    def group_list(self, obj):
        return ", ".join(group.name for group in obj.groups.all())

    @admin.display(description=_("keys (enabled/all)"), ordering="n_enabled_keys")
    def keys_display(self, obj):
        return f"{obj.n_enabled_keys}/{obj.n_keys}"

    @admin.display(description=_("used quota"), ordering="used_quota")
    def used_display(self, obj):
        return quota_text(obj.used_quota)

    @admin.display(description=_("balance"), ordering="balance")
    def balance_display(self, obj):
        if obj.balance is None:
            return "-"
        return f"{obj.balance:,.2f} {obj.balance_currency or 'USD'}"

    def get_deleted_objects(self, objs, request):
        """Routing rows go with their channel; nobody needs a permission on them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(Ability._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        keys = form.cleaned_data.get("new_keys") or []
        ChannelKey.objects.bulk_create(ChannelKey(channel=form.instance, key=k) for k in keys)
        services.rebuild_routing(form.instance)  # bulk_create sends no signals

    @admin.action(description=_("Enable selected channels"))
    def enable(self, request, queryset):
        self._set_status(request, queryset, ChannelStatus.ENABLED)

    @admin.action(description=_("Disable selected channels"))
    def disable(self, request, queryset):
        self._set_status(request, queryset, ChannelStatus.DISABLED)

    def _set_status(self, request, queryset, status):
        reason = gettext("set by %(admin)s") % {"admin": request.user.username}
        for channel in queryset:
            services.set_channel_status(channel, status, reason)
        count = len(queryset)
        self.message_user(request, ngettext(
            "%(count)d channel is now %(status)s.", "%(count)d channels are now %(status)s.",
            count,
        ) % {"count": count, "status": status.label})  # fmt: skip

    @admin.action(description=_("Test selected channels now"))
    def test_now(self, request, queryset):
        """Test each channel through every usable key; one message per channel."""
        for channel in queryset:
            try:
                result = services.test_channel(channel)
            except services.ChannelError as exc:
                self.message_user(request, f"{channel.name}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, _test_message(channel, result), level)

    @admin.action(description=_("Refresh balances of selected channels"))
    def refresh_balances(self, request, queryset):
        for channel in queryset:
            try:
                balance = services.refresh_balance(channel)
            except services.ChannelError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            if balance is None:
                text = gettext("this provider has no balance API")
            else:
                text = f"{balance:,.2f} {channel.balance_currency or 'USD'}"
            params = {"name": channel.name, "balance": text}
            self.message_user(request, gettext("%(name)s: balance %(balance)s") % params)

    @admin.action(description=_("Duplicate selected channels"))
    def duplicate(self, request, queryset):
        for channel in queryset:
            copy = duplicate_channel(channel)
            self.message_user(request, gettext("Created %(name)s.") % {"name": copy.name})


def _test_message(channel, result) -> str:
    keys = ", ".join(
        f"#{key.key_id} {'OK' if key.ok else key.error or 'failed'} ({key.response_ms} ms)"
        for key in result.keys
    )
    params = {
        "name": channel.name, "model": result.model, "ms": result.response_ms,
        "detail": result.error, "keys": keys or "-", "status": ChannelStatus(result.status).label,
    }  # fmt: skip
    if result.ok:
        return gettext("%(name)s (%(model)s): OK in %(ms)s ms; keys: %(keys)s") % params
    return (
        gettext(
            "%(name)s (%(model)s): failed after %(ms)s ms: %(detail)s; keys: %(keys)s; "
            "channel is %(status)s"
        )
        % params
    )


def duplicate_channel(channel: Channel) -> Channel:
    """A copy of `channel` with its keys and groups, named "<name> (copy)"; the copy's
    health history and counters start empty."""
    groups = list(channel.groups.all())
    keys = list(channel.keys.all())
    with transaction.atomic():
        copy = Channel.objects.create(
            **{f: getattr(channel, f) for f in _COPIED_FIELDS},
            name=gettext("%(name)s (copy)") % {"name": channel.name},
        )
        ChannelKey.objects.bulk_create(
            ChannelKey(channel=copy, key=k.key, status=k.status, status_reason=k.status_reason)
            for k in keys
        )
        copy.groups.set(groups)
        services.rebuild_routing(copy)
    return copy


_COPIED_FIELDS = (
    "type", "base_url", "config", "model_names", "model_mapping", "priority", "weight",
    "status", "status_reason", "test_model", "balance_threshold", "tag",
)  # fmt: skip


@admin.register(ChannelKey)
class ChannelKeyAdmin(OperatorAdmin):
    form = ChannelKeyForm
    list_display = ("masked_key", "channel", "status", "tested_at", "response_ms", "last_error")
    list_filter = ("status",)
    search_fields = ("channel__name",)
    list_select_related = ("channel",)

    @admin.display(description=_("key"))
    def masked_key(self, obj):
        return obj.masked()

    def get_fields(self, request, obj=None):
        return (
            ("channel", "key", "status", "status_reason")
            if obj is None
            else ("key", "status", "status_reason")
        )

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["fields"] = ("channel", "key", "status", "status_reason")
        return super().get_form(request, obj, **kwargs)


@admin.register(Ability)
class AbilityAdmin(ReadOnlyAdmin):
    """The routing index, for looking only: it is rebuilt from channels on every change."""

    list_display = ("group", "model", "channel", "priority", "weight")
    list_filter = ("group", "channel__type")
    search_fields = ("=model", "channel__name")
    list_select_related = ("group", "channel")
    ordering = ("group__name", "model", "-priority")
