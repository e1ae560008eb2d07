"""Admin forms for channels: models as plain text, mapping and config as checked JSON, and
keys that are write-only (a saved key is never sent back to the browser)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.forms import ListField

from .models import Channel, ChannelKey, validate_config, validate_model_mapping


class ChannelForm(forms.ModelForm):
    base_url = forms.URLField(
        label=_("base URL"),
        required=False,
        assume_scheme="https",
        help_text=_("Empty uses the provider's default."),
    )
    model_names = ListField(
        label=_("models"), help_text=_("Comma- or newline-separated model names.")
    )
    model_mapping = forms.JSONField(
        label=_("model mapping"),
        required=False,
        initial=dict,
        validators=[validate_model_mapping],
        help_text=_('JSON object, e.g. {"gpt-4o": "my-gpt-4o-deployment"}.'),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
    config = forms.JSONField(
        label=_("provider config"),
        required=False,
        initial=dict,
        validators=[validate_config],
        help_text=_('JSON object, e.g. {"api_version": "2024-10-21"} for Azure.'),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
    new_keys = forms.CharField(
        label=_("add keys"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off"}),
        help_text=_("One upstream key per line; each becomes a key of this channel."),
    )

    class Meta:
        model = Channel
        fields = [
            "type", "name", "tag", "base_url", "config", "model_names", "model_mapping",
            "groups", "priority", "weight", "status", "status_reason", "test_model",
            "balance_threshold",
        ]  # fmt: skip

    def clean_model_mapping(self):
        return self.cleaned_data.get("model_mapping") or {}

    def clean_config(self):
        return self.cleaned_data.get("config") or {}

    def clean_new_keys(self):
        lines = (line.strip() for line in self.cleaned_data.get("new_keys", "").splitlines())
        return list(dict.fromkeys(line for line in lines if line))


class ChannelKeyForm(forms.ModelForm):
    """Typing a key replaces it; leaving the box empty keeps the stored key."""

    key = forms.CharField(
        label=_("key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    class Meta:
        model = ChannelKey
        fields = ["key", "status", "status_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["key"] = ""  # never render the stored key
        if self.instance.pk:
            self.fields["key"].widget.attrs["placeholder"] = self.instance.masked()

    def clean_key(self):
        key = self.cleaned_data.get("key", "")
        if key:
            return key
        if self.instance.pk:
            return self.instance.key
        raise forms.ValidationError(_("Enter the upstream key."), code="required")
