"""Who may do what: staff (admin and root roles) manage everything; other users see and
manage only their own tokens, logs and balance."""

from rest_framework import permissions


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff)


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
