"""Users, groups and management-API access tokens in the admin."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as AuthGroup
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import roles, services
from ..forms import TopUpForm, UserChangeForm
from ..models import AccessToken, Group, User
from ..models.accounts import DEFAULT_GROUP
from .base import (
    KeyOnceMixin,
    OperatorAdmin,
    OwnedAdmin,
    is_operator,
    is_root,
    quota_text,
    refuse_accounts,
    render_keys_once,
)

# Roles, not Django's permission groups, decide access; billing.Group is the pricing tier.
admin.site.unregister(AuthGroup)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Operators manage users; only root creates, edits or deletes admins and root."""

    form = UserChangeForm
    list_display = (
        "username", "display_name", "email", "role", "status", "group",
        "quota_display", "used_display", "request_count", "last_seen",
    )  # fmt: skip
    list_filter = ("role", "status", "group")
    search_fields = ("username", "email", "display_name")
    list_select_related = ("group",)
    ordering = ("username",)
    readonly_fields = (
        "quota_display", "used_display", "request_count", "last_seen", "last_login",
        "date_joined",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Profile"), {"fields": ("display_name", "email", "role", "status", "group")}),
        (_("Quota"), {"fields": ("quota", "quota_display", "used_display", "request_count")}),
        (_("Activity"), {"fields": ("last_seen", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "password1", "password2", "role", "group", "quota")}),
    )
    actions = ("top_up", "create_tokens")

    @admin.display(description=_("remaining quota"), ordering="quota")
    def quota_display(self, obj):
        return quota_text(obj.quota)

    @admin.display(description=_("used quota"), ordering="used_quota")
    def used_display(self, obj):
        return quota_text(obj.used_quota)

    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        """Admins and root accounts are read-only to admins (billing.roles); their own
        password goes through the site's "Change password" page."""
        if obj is None:
            return is_operator(request.user)
        return roles.may_manage(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def get_search_results(self, request, queryset, search_term):
        """The only user autocomplete is a row's owner (tokens): offer just the accounts
        the actor may give rows to."""
        queryset, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        if request.resolver_match and request.resolver_match.url_name == "autocomplete":
            queryset = roles.managed_owners(request.user, queryset)
        return queryset, may_have_duplicates

    def get_readonly_fields(self, request, obj=None):
        """Only root sets roles: for admins the role is read-only, so a new user is a user."""
        fields = super().get_readonly_fields(request, obj)
        return fields if is_root(request.user) else (*fields, "role")

    @admin.action(description=_("Top up selected users"))
    def top_up(self, request, queryset):
        """Ask for an amount, then add it to each user with a top-up log row."""
        if refuse_accounts(self, request, queryset, roles.may_manage):
            return None
        form = TopUpForm(request.POST if "apply" in request.POST else None, users=queryset)
        if form.is_valid():
            for user in queryset:
                services.top_up(
                    user, form.cleaned_data["quota"], by=request.user,
                    note=form.cleaned_data["note"],
                )  # fmt: skip
            count = len(queryset)
            self.message_user(
                request,
                ngettext(
                    "Added %(quota)s to %(count)d user.",
                    "Added %(quota)s to %(count)d users.",
                    count,
                )
                % {"quota": quota_text(form.cleaned_data["quota"]), "count": count},
            )
            return None
        return TemplateResponse(request, "admin/action_form.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Top up selected users"),
            "objects": queryset, "form": form, "action": "top_up", "opts": self.model._meta,
        })  # fmt: skip

    @admin.action(description=_("Create a token for each selected user"))
    def create_tokens(self, request, queryset):
        if refuse_accounts(self, request, queryset, roles.may_own_tokens_of):
            return None
        rows = []
        for user in queryset:
            token, key = services.create_token(
                user,
                gettext("created by %(admin)s") % {"admin": request.user.username},
                unlimited_quota=True,
            )
            rows.append((f"{user.username}: {token.name}", key))
        return render_keys_once(request, self, rows, gettext("Copy the new keys now"))


@admin.register(Group)
class GroupAdmin(OperatorAdmin):
    list_display = ("name", "ratio", "description", "user_count", "channel_count")
    search_fields = ("name", "description")
    list_filter = ()
    list_select_related = False  # no foreign keys; counts come from annotations below

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_users=Count("users", distinct=True), n_channels=Count("channels", distinct=True)
            )
        )

    @admin.display(description=_("users"), ordering="n_users")
    def user_count(self, obj):
        return obj.n_users

    @admin.display(description=_("channels"), ordering="n_channels")
    def channel_count(self, obj):
        return obj.n_channels

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.name == DEFAULT_GROUP:
            return False  # the default group must always exist
        return super().has_delete_permission(request, obj)


@admin.register(AccessToken)
class AccessTokenAdmin(KeyOnceMixin, OwnedAdmin):
    list_display = ("name", "user", "key_display", "created_at", "last_used_at")
    list_filter = ("created_at",)
    search_fields = ("name", "user__username", "key_prefix")
    list_select_related = ("user",)
    readonly_fields = ("key_display", "created_at", "last_used_at")

    @admin.display(description=_("key"))
    def key_display(self, obj):
        return f"{obj.key_prefix}…" if obj.key_prefix else "-"

    def get_fields(self, request, obj=None):
        fields = ["name", "key_display", "created_at", "last_used_at"]
        return ["user", *fields] if is_operator(request.user) else fields

    def get_list_display(self, request):
        if is_operator(request.user):
            return self.list_display
        return [f for f in self.list_display if f != "user"]

    def get_queryset(self, request):
        """An access token is as strong as its owner: admins never see root's or other
        admins' (not even listed), so they cannot revoke or use them either."""
        return roles.owned_rows(request.user, super().get_queryset(request))
