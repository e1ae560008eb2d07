"""Admin forms for billing rows. Every bad input becomes an error on its field and nothing
is saved: negative quota, an expiry in the past, a malformed IP network, a bad option."""

import ipaddress
import re

from django import forms
from django.contrib.auth import forms as auth_forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import token_policy
from .models import QUOTA_MAX, Token, User
from .option_specs import OPTION_SPECS, coerce

_SEPARATORS = re.compile(r"[,\n\r]+")


class ListField(forms.CharField):
    """A list of strings typed as comma- or newline-separated text."""

    widget = forms.Textarea(attrs={"rows": 2, "cols": 60})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        text = super().to_python(value) or ""
        items = [item.strip() for item in _SEPARATORS.split(text)]
        return list(dict.fromkeys(item for item in items if item))


class NetworkListField(ListField):
    """IP addresses or CIDR networks, e.g. `10.0.0.0/8, 192.168.1.7`."""

    def validate(self, value):
        super().validate(value)
        bad = [entry for entry in value if not _is_network(entry)]
        if bad:
            raise forms.ValidationError(
                _("Not an IP address or CIDR network: %(entries)s"),
                params={"entries": ", ".join(bad)},
                code="invalid_network",
            )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _non_negative(value, field_label):
    if value is not None and value < 0:
        raise forms.ValidationError(
            _("%(field)s cannot be negative."), params={"field": field_label}, code="negative"
        )
    return value


class TokenForm(forms.ModelForm):
    # Set by TokenAdmin.get_form: who is editing decides which ceilings apply.
    editor = None

    allowed_models = ListField(
        label=_("allowed models"),
        required=False,
        help_text=_("Comma-separated; empty means every model the owner's group can use."),
    )
    subnets = NetworkListField(
        label=_("allowed client IPs"),
        required=False,
        help_text=_("IP addresses or CIDR networks, comma-separated; empty means any."),
    )

    class Meta:
        model = Token
        fields = [
            "user", "name", "status", "expires_at", "remain_quota", "unlimited_quota",
            "allowed_models", "subnets", "rpm_limit", "tpm_limit", "max_concurrency",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, rule in token_policy.rules(self.instance).items():
            if name in self.fields:  # under a ceiling, "empty means any" no longer holds
                self.fields[name].help_text = rule

    def clean_remain_quota(self):
        return _non_negative(self.cleaned_data.get("remain_quota"), _("Quota"))

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        changed = "expires_at" in self.changed_data or self.instance._state.adding
        if expires_at and changed and expires_at <= timezone.now():
            raise forms.ValidationError(_("The expiry time is in the past."), code="past")
        return expires_at

    def clean(self):
        """The owner may not loosen an operator's ceilings; an operator's edit of someone
        else's token sets them (billing/token_policy.py)."""
        cleaned = super().clean()
        if self.editor is None:
            return cleaned
        adding = self.instance._state.adding
        owner = self.instance.user if not adding else cleaned.get("user") or self.editor
        changes = {n: cleaned[n] for n in self.changed_data if n in cleaned}
        if not adding and owner.pk == self.editor.pk:
            for name, message in token_policy.loosened(self.instance, changes).items():
                self.add_error(name, forms.ValidationError(message, code="ceiling"))
        elif token_policy.sets_ceilings(self.editor, owner.pk):
            values = {**token_policy.current_values(self.instance), **cleaned}
            self.instance.ceilings = token_policy.ceilings_after(
                self.instance.ceilings, values, changes
            )
        return cleaned


class UserQuotaFormMixin:
    """Balances typed by an operator must not go below zero."""

    def clean_quota(self):
        return _non_negative(self.cleaned_data.get("quota"), _("Quota"))

    def clean_used_quota(self):
        return _non_negative(self.cleaned_data.get("used_quota"), _("Used quota"))


class UserChangeForm(UserQuotaFormMixin, auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = ("username", "password", "display_name", "email", "role", "status", "group")
        fields += ("quota",)


class TopUpForm(forms.Form):
    """`users`: the users to be topped up; none may end above QUOTA_MAX."""

    quota = forms.IntegerField(
        label=_("quota to add"),
        min_value=1,
        max_value=QUOTA_MAX,
        help_text=_("Quota units; 500000 is one US dollar by default."),
    )
    note = forms.CharField(label=_("note"), max_length=200, required=False)

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.users = users

    def clean_quota(self):
        quota = self.cleaned_data["quota"]
        over = [u.username for u in self.users if u.quota > QUOTA_MAX - quota]
        if over:
            raise forms.ValidationError(
                _("This would take the balance of %(users)s past the maximum of %(max)d "
                  "quota units."),
                params={"users": ", ".join(over), "max": QUOTA_MAX}, code="quota_max",
            )
        return quota


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(label=_("number of codes"), min_value=1, max_value=1000)
    quota = forms.IntegerField(label=_("quota per code"), min_value=1, max_value=QUOTA_MAX)
    name = forms.CharField(label=_("name"), max_length=64, required=False)


class RedeemForm(forms.Form):
    code = forms.CharField(label=_("redemption code"), max_length=64)


class OptionsForm(forms.Form):
    """One typed field per known runtime option (billing/option_specs.py), not raw JSON."""

    _FIELDS = {bool: forms.BooleanField, int: forms.IntegerField, float: forms.FloatField}

    def __init__(self, *args, values: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for key, spec in OPTION_SPECS.items():
            field_class = self._FIELDS.get(spec.type, forms.CharField)
            extra = {"min_value": 0} if spec.type in (int, float) else {}
            if spec.quota:
                extra["max_value"] = QUOTA_MAX
            self.fields[key] = field_class(
                label=key.replace("_", " "),
                help_text=spec.help,
                required=spec.type is not bool,
                initial=values.get(key, spec.default),
                **extra,
            )

    def clean(self):
        cleaned = super().clean()
        for key, value in list(cleaned.items()):
            try:
                cleaned[key] = coerce(key, value)
            except (TypeError, ValueError):
                self.add_error(key, _("Enter a valid value."))
        return cleaned
