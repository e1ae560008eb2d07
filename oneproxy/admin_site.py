"""The one admin site for operators and self-service users.

Operators (role admin or root) see everything, and manage what `billing.roles` lets
them (an admin: users, not other admins or root). Any other active user may log in too and
sees only the pages that are scoped to them: their tokens, logs, access tokens, their
usage dashboard and an account page to check the balance and redeem codes. Permissions
come from the user's role, not from Django's per-model permission rows.
"""

from django.contrib import admin, messages
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.display import quota_text
from core.roles import is_operator

__all__ = ["OneProxyAdminSite"]


class SelfServiceLoginForm(AuthenticationForm):
    """Django's admin login refuses non-staff users; ours lets every active user in."""


class OneProxyAdminSite(admin.AdminSite):
    site_header = _("OneProxy")
    site_title = _("OneProxy administration")
    index_title = _("Operator console")
    login_form = SelfServiceLoginForm
    index_template = "admin/oneproxy_index.html"

    def has_permission(self, request):
        return bool(request.user.is_authenticated and request.user.is_active)

    def get_urls(self):
        return [
            path("dashboard/", self.admin_view(self.dashboard_view), name="dashboard"),
            path("account/", self.admin_view(self.account_view), name="account"),
            *super().get_urls(),
        ]

    def each_context(self, request):
        context = super().each_context(request)
        context["is_operator"] = is_operator(request.user)
        return context

    def dashboard_view(self, request):
        """Usage charts from the daily rollups; operators see everyone, others themselves."""
        from billing import dashboard
        from channels_app.dashboard import channel_health

        operator = is_operator(request.user)
        data = dashboard.build(user_id=None if operator else request.user.pk)
        if operator:
            data["channels"] = channel_health(data["end"])
        context = {**self.each_context(request), "title": gettext("Dashboard"), "data": data}
        return TemplateResponse(request, "admin/dashboard.html", context)

    def account_view(self, request):
        """The signed-in user's balance, plus a form to redeem a code."""
        from billing import services
        from billing.forms import RedeemForm
        from billing.models import User

        form = RedeemForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                added = services.redeem(request.user, form.cleaned_data["code"])
            except services.BillingError as exc:
                form.add_error("code", str(exc))
            else:
                messages.success(
                    request, gettext("Redeemed: %(quota)s added.") % {"quota": quota_text(added)}
                )
                return redirect("admin:account")
        user = User.objects.select_related("group").get(pk=request.user.pk)
        context = {
            **self.each_context(request),
            "title": gettext("My account"),
            "account": user,
            "balance": quota_text(user.quota),
            "used": quota_text(user.used_quota),
            "form": form,
        }
        return TemplateResponse(request, "admin/account.html", context)

