"""Prices (with One API's ratios beside them) and the typed runtime options page."""

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import option_specs
from ..forms import OptionsForm
from ..models import Option, Price
from .base import OperatorAdmin


@admin.register(Price)
class PriceAdmin(OperatorAdmin):
    list_display = (
        "model", "provider", "input_price", "output_price", "cached_input_price",
        "per_request_price", "model_ratio_display", "completion_ratio_display", "updated_at",
    )  # fmt: skip
    list_editable = ("input_price", "output_price", "cached_input_price", "per_request_price")
    list_filter = ("provider",)
    search_fields = ("model", "provider")
    list_select_related = False  # no foreign keys
    readonly_fields = ("model_ratio_display", "completion_ratio_display", "updated_at")
    # Narrow inputs, so the editable list still shows the ratio columns on one screen.
    formfield_overrides = {
        models.DecimalField: {"widget": forms.NumberInput(attrs={"style": "width: 7em"})}
    }

    @admin.display(description=_("model ratio"))
    def model_ratio_display(self, obj):
        return _ratio(obj.model_ratio)

    @admin.display(description=_("completion ratio"))
    def completion_ratio_display(self, obj):
        return _ratio(obj.completion_ratio)


def _ratio(value):
    return "-" if value is None else format(value, ".6g")  # 8.33333, not 8.333333333...


@admin.register(Option)
class OptionAdmin(OperatorAdmin):
    """The changelist is a form with one typed field per known option."""

    list_display = ("key", "value", "updated_at")
    list_filter = ()
    search_fields = ("key",)
    list_select_related = False

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = OptionsForm(request.POST or None, values=option_specs.load_all())
        if request.method == "POST" and form.is_valid():
            current = option_specs.load_all()
            for key, value in form.cleaned_data.items():
                if value != current.get(key):
                    Option.objects.update_or_create(key=key, defaults={"value": value})
            messages.success(request, gettext("Options saved."))
            return redirect("admin:billing_option_changelist")
        return TemplateResponse(request, "admin/billing/option/options_form.html", {
            **self.admin_site.each_context(request),
            "title": gettext("Runtime options"), "form": form, "opts": self.model._meta,
        })  # fmt: skip
