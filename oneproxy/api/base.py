"""Shared policy for every /api/ view: authentication, filtering, and error mapping."""

from django.db.models import ProtectedError
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters, status, viewsets
from rest_framework.authentication import SessionAuthentication

from billing.services import BillingError

from .auth import AccessTokenAuthentication
from .permissions import is_staff

AUTHENTICATION = [AccessTokenAuthentication, SessionAuthentication]
FILTERS = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This object is still in use.")
    default_code = "conflict"


def refused(error: BillingError, field: str | None = None) -> exceptions.ValidationError:
    """A service's refusal as a DRF 400, under `field` when it concerns one."""
    message = str(error)
    return exceptions.ValidationError({field: [message]} if field else [message])


class APIViewSetMixin:
    authentication_classes = AUTHENTICATION
    filter_backends = FILTERS

    def owned(self, queryset, owner_field: str = "user_id"):
        """`queryset` for staff; only the caller's rows for anyone else."""
        if getattr(self, "swagger_fake_view", False) or is_staff(self.request.user):
            return queryset
        return queryset.filter(**{owner_field: self.request.user.pk})

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as exc:
            names = ", ".join(sorted({str(o) for o in exc.protected_objects})[:5])
            raise Conflict(_("Still used by: %(names)s") % {"names": names}) from None


class ModelViewSet(APIViewSetMixin, viewsets.ModelViewSet):
    # No PUT: partial updates only, so a client never wipes fields it did not send.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class ReadOnlyModelViewSet(APIViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
