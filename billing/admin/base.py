"""Admin building blocks shared by every model admin: role-based permissions, rows scoped
to their owner for self-service users, quota shown as units and USD, and the page that
shows a freshly created key exactly once."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from oneproxy.admin_site import is_operator, is_root, quota_text

__all__ = ["OperatorAdmin", "OwnedAdmin", "ReadOnlyAdmin", "is_operator", "is_root", "quota_text"]


class OperatorAdmin(admin.ModelAdmin):
    """Admins and root manage these rows; self-service users never see them."""

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

    def has_module_permission(self, request):
        return request.user.is_active

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user) or self._owns(request, obj)

    def has_add_permission(self, request):
        return is_operator(request.user) or self.self_service_can_edit

    def has_change_permission(self, request, obj=None):
        if is_operator(request.user):
            return True
        return self.self_service_can_edit and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


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
