"""Admin building blocks shared by every model admin: role-based permissions, rows scoped
to their owner for self-service users, quota shown as units and USD, and the page that
shows a freshly created key exactly once."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from core.roles import is_operator, is_root

from .. import roles
from ..display import quota_text
from ..models import User

__all__ = [
    "OperatorAdmin", "OperatorPermissions", "OwnedAdmin", "ReadOnlyAdmin", "is_operator",
    "is_root", "quota_text",
]  # fmt: skip


class OperatorPermissions:
    """Admins and root manage these rows; self-service users never see them. A mixin, so
    that third-party model admins (periodic tasks) can take the same role rule."""

    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request.user)


class OperatorAdmin(OperatorPermissions, admin.ModelAdmin):
    """A model admin for operators only."""


class ReadOnlyAdmin(OperatorAdmin):
    """Derived rows (routing index, rollups): operators look, nobody edits by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OwnedAdmin(admin.ModelAdmin):
    """Rows with an owner (`owner_field`): operators see all, everyone else only their own.
    Changing, deleting or creating a row needs `roles.may_own_tokens_of(actor, owner)`:
    an admin's rows of root or another admin are read-only to them, and the owner choice
    offers only the accounts the actor may give rows to.

    Another user's row is simply absent from the queryset, so its URL answers like a
    missing object (the admin redirects to the changelist) instead of leaking it.
    """

    owner_field = "user"
    self_service_can_edit = True

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_operator(request.user):
            return queryset
        return queryset.filter(**{self.owner_field: request.user})

    def _owns(self, request, obj) -> bool:
        return obj is None or getattr(obj, f"{self.owner_field}_id") == request.user.pk

    def may_manage_row(self, request, obj) -> bool:
        """The role rule for one row (None: rows in general)."""
        owner = None if obj is None else getattr(obj, self.owner_field)
        return owner is None or roles.may_own_tokens_of(request.user, owner)

    def has_module_permission(self, request):
        return request.user.is_active

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user) or self._owns(request, obj)

    def has_add_permission(self, request):
        return is_operator(request.user) or self.self_service_can_edit

    def has_change_permission(self, request, obj=None):
        if not (is_operator(request.user) or self.self_service_can_edit):
            return False
        return self._owns(request, obj) or self.may_manage_row(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.owner_field:
            kwargs["queryset"] = roles.managed_owners(request.user, User.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not is_operator(request.user):
            setattr(obj, self.owner_field, request.user)
        if not self.may_manage_row(request, obj):  # the form's choices already say so
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def refuse_unmanaged(self, request, queryset) -> bool:
        """For actions: True (with an error) when a selected row's owner is not the
        actor's to manage; the action then changes nothing at all."""
        owners = {getattr(row, self.owner_field) for row in queryset}
        return refuse_accounts(self, request, owners, roles.may_own_tokens_of)


def refuse_accounts(admin_obj, request, accounts, allowed) -> bool:
    """For actions on accounts or their rows: True, with an error message naming them,
    when `allowed(actor, account)` fails for any of `accounts`."""
    refused = sorted(a.username for a in accounts if not allowed(request.user, a))
    if refused:
        admin_obj.message_user(
            request,
            gettext("Only root manages these accounts: %(names)s. Nothing was changed.")
            % {"names": ", ".join(refused)},
            messages.ERROR,
        )
    return bool(refused)


def render_keys_once(request, admin_obj, rows, title=None):
    """A page listing (name, full key) pairs with copy buttons. The keys are never stored
    in clear, so this response is the only time anybody sees them."""
    context = {
        **admin_obj.admin_site.each_context(request),
        "title": title or gettext("Copy your new key now"),
        "rows": rows,
        "opts": admin_obj.model._meta,
        "changelist_url": f"admin:{admin_obj.model._meta.app_label}_"
        f"{admin_obj.model._meta.model_name}_changelist",
    }
    response = TemplateResponse(request, "admin/keys_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


class KeyOnceMixin:
    """For models with `assign_new_key()`: the add view answers with the new key, once."""

    def save_model(self, request, obj, form, change):
        if not change:
            obj._new_key = obj.assign_new_key()
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        key = getattr(obj, "_new_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        return render_keys_once(request, self, [(obj.name, key)])
