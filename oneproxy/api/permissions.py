"""Who may do what through /api/: the role rule of `billing.roles`, as DRF permissions.

Staff (admin and root roles) read everything and manage channels, groups, prices, codes
and options; which accounts and tokens they may change is `billing.roles`' call (an admin:
users and their own tokens and password, never root's or another admin's). Other users
see and manage only their own tokens, logs, balance and password.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from billing import roles
from core.roles import is_operator

PASSWORD_FIELDS = {"password", "current_password"}


def is_staff(user) -> bool:
    return is_operator(user)


class IsStaff(permissions.BasePermission):
    """Admin or root role."""

    def has_permission(self, request, view):
        return is_staff(request.user)


class StaffWritesOthersRead(permissions.BasePermission):
    """Any signed-in user may read; only staff may write."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return is_staff(request.user)


class OwnerOrStaff(permissions.BasePermission):
    """Signed-in users act on rows they own (the viewset also filters its queryset);
    staff on every row."""

    owner_field = "user_id"

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        return is_staff(request.user) or getattr(obj, self.owner_field) == request.user.pk


class ManagesAccount(permissions.BasePermission):
    """Accounts: staff create them; changing, deleting or topping one up needs
    `roles.may_manage`; a change of the password alone needs `roles.may_set_password`
    (everyone for their own account)."""

    message = _("Only root manages admin and root accounts.")

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or view.action == "partial_update":
            return bool(request.user and request.user.is_authenticated)
        return is_staff(request.user)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True  # the viewset's queryset already limits what one may see
        if roles.may_manage(request.user, obj):
            return True
        fields = set(request.data.keys()) if hasattr(request.data, "keys") else set()
        if view.action == "partial_update" and fields <= PASSWORD_FIELDS:
            return roles.may_set_password(request.user, obj)
        if obj.pk == request.user.pk:
            self.message = _("On your own account you may change only your password.")
        return False


class ManagesTokenOwner(permissions.BasePermission):
    """Relay tokens: operators read every token, users their own; changing, regenerating
    or deleting one needs `roles.may_own_tokens_of` its owner."""

    message = _("Only root manages the tokens of admin and root accounts.")

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return roles.may_see_relay_tokens_of(request.user, obj.user)
        return roles.may_own_tokens_of(request.user, obj.user)
