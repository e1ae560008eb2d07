"""Client API keys in the admin: only the visible prefix is ever listed; a new key is shown
once, on the page that answers its creation."""

from django.contrib import admin
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..forms import TokenForm
from ..models import Token
from .base import KeyOnceMixin, OwnedAdmin, is_operator, quota_text, render_keys_once


@admin.register(Token)
class TokenAdmin(KeyOnceMixin, OwnedAdmin):
    form = TokenForm
    list_display = (
        "name", "user", "key_display", "status", "remaining_display", "used_display",
        "expires_at", "last_used_at", "created_at",
    )  # fmt: skip
    list_filter = ("status", "unlimited_quota", "created_at")
    search_fields = ("name", "key_prefix", "user__username")
    list_select_related = ("user",)
    readonly_fields = (
        "key_display", "remaining_display", "used_display", "last_used_at", "created_at",
    )  # fmt: skip
    autocomplete_fields = ("user",)
    actions = ("revoke", "regenerate_keys")

    @admin.display(description=_("key"))
    def key_display(self, obj):
        return f"{obj.key_prefix}…" if obj.key_prefix else "-"

    @admin.display(description=_("remaining quota"), ordering="remain_quota")
    def remaining_display(self, obj):
        return gettext("unlimited") if obj.unlimited_quota else quota_text(obj.remain_quota)

    @admin.display(description=_("used quota"), ordering="used_quota")
    def used_display(self, obj):
        return quota_text(obj.used_quota)

    def get_fields(self, request, obj=None):
        fields = list(TokenForm.Meta.fields)
        if not is_operator(request.user):
            fields.remove("user")
        if obj is not None:
            fields[1:1] = ["key_display", "remaining_display", "used_display", "last_used_at",
                           "created_at"]  # fmt: skip
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a new class per call
        form.editor = request.user  # ceilings depend on who edits (billing/token_policy.py)
        return form

    def get_list_display(self, request):
        if is_operator(request.user):
            return self.list_display
        return [f for f in self.list_display if f != "user"]

    def get_search_fields(self, request):
        if is_operator(request.user):
            return self.search_fields
        return ("name", "key_prefix")

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request, queryset):
        if self.refuse_unmanaged(request, queryset):
            return
        changed = services.revoke_tokens(queryset, by=request.user)
        self.message_user(
            request,
            ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", changed)
            % {"count": changed},
        )

    @admin.action(description=_("Regenerate keys of selected tokens"))
    def regenerate_keys(self, request, queryset):
        if self.refuse_unmanaged(request, queryset):
            return None
        rows = [(token.name, services.regenerate_token_key(token)) for token in queryset]
        return render_keys_once(request, self, rows, gettext("Copy the new keys now"))
