"""Upstream channels (provider accounts), their keys, and the routing index."""

import json

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def provider_choices():
    """Channel.type choices come from the adaptor registry, so providers are listed once."""
    from providers.registry import PROVIDER_CHOICES

    return PROVIDER_CHOICES


def validate_model_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationError(_("Enter a list of model names."))


def validate_model_mapping(value) -> None:
    """A JSON object of requested model name -> upstream model name."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError(_("Model mapping must be valid JSON.")) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ValidationError(_("Model mapping must map model names to model names."))


def validate_config(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError(_("Provider config must be a JSON object."))


class ChannelStatus(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    DISABLED = "disabled", _("Manually disabled")
    AUTO_DISABLED = "auto_disabled", _("Auto-disabled")


class ChannelQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(status=ChannelStatus.ENABLED)


class Channel(models.Model):
    type = models.CharField(_("provider"), max_length=32, choices=provider_choices)
    name = models.CharField(_("name"), max_length=128)
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("Empty uses the provider's default.")
    )
    config = models.JSONField(
        _("provider config"),
        default=dict,
        blank=True,
        validators=[validate_config],
        help_text=_('Provider settings, e.g. {"api_version": "2024-10-21"} for Azure.'),
    )
    model_names = models.JSONField(_("models"), default=list, validators=[validate_model_list])
    model_mapping = models.JSONField(
        _("model mapping"),
        default=dict,
        blank=True,
        validators=[validate_model_mapping],
        help_text=_("Requested model name -> upstream model name."),
    )
    groups = models.ManyToManyField(
        "billing.Group", verbose_name=_("groups"), related_name="channels"
    )
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher tiers first."))
    weight = models.PositiveIntegerField(
        _("weight"), default=1, help_text=_("Share of traffic within a priority tier.")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ChannelStatus.choices, default=ChannelStatus.ENABLED
    )
    status_reason = models.CharField(_("status reason"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    test_model = models.CharField(_("test model"), max_length=128, blank=True)
    tested_at = models.DateTimeField(_("last test"), null=True, blank=True)
    response_ms = models.PositiveIntegerField(_("response ms"), null=True, blank=True)
    balance = models.DecimalField(
        _("balance"), max_digits=16, decimal_places=4, null=True, blank=True
    )
    balance_currency = models.CharField(
        _("balance currency"), max_length=8, blank=True, help_text=_("As the provider reports.")
    )
    balance_updated_at = models.DateTimeField(_("balance updated"), null=True, blank=True)
    balance_threshold = models.DecimalField(
        _("low-balance warning (USD)"), max_digits=16, decimal_places=4, null=True, blank=True
    )
    used_quota = models.BigIntegerField(_("used quota"), default=0)
    tag = models.CharField(_("tag"), max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ChannelQuerySet.as_manager()

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["-priority", "name"]
        indexes = [models.Index(fields=["status", "type"])]

    def __str__(self):
        return self.name

    def is_routable(self) -> bool:
        return self.status == ChannelStatus.ENABLED

    def served_models(self) -> set[str]:
        """Model names clients may ask this channel for: its list plus mapping sources."""
        return set(self.model_names) | set(self.model_mapping)


class KeyStatus(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    DISABLED = "disabled", _("Manually disabled")
    AUTO_DISABLED = "auto_disabled", _("Auto-disabled")


class ChannelKey(models.Model):
    """One upstream key of a channel. Each key has its own status, so one revoked key
    does not take the whole channel down."""

    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="keys"
    )
    key = models.TextField(_("key"))
    status = models.CharField(
        _("status"), max_length=16, choices=KeyStatus.choices, default=KeyStatus.ENABLED
    )
    status_reason = models.CharField(_("status reason"), max_length=500, blank=True)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    tested_at = models.DateTimeField(_("last test"), null=True, blank=True)
    response_ms = models.PositiveIntegerField(_("response ms"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("channel key")
        verbose_name_plural = _("channel keys")
        ordering = ["pk"]

    def __str__(self):
        return self.masked()

    def masked(self) -> str:
        """The key as lists show it: never more than its first and last four characters."""
        if len(self.key) <= 12:
            return "****"
        return f"{self.key[:4]}…{self.key[-4:]}"


class Ability(models.Model):
    """The routing index: one row per (group, model, channel) a client can be routed to.
    Rebuilt on every channel save, status change, key change or delete, so it only ever
    lists enabled channels."""

    group = models.ForeignKey("billing.Group", on_delete=models.CASCADE, related_name="+")
    model = models.CharField(max_length=128)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="abilities")
    priority = models.IntegerField()
    weight = models.PositiveIntegerField(validators=[MinValueValidator(0)])

    class Meta:
        verbose_name = _("routing entry")
        verbose_name_plural = _("routing index")
        constraints = [
            models.UniqueConstraint(fields=["group", "model", "channel"], name="ability_unique")
        ]
        indexes = [models.Index(fields=["group", "model", "-priority"])]

    def __str__(self):
        return f"{self.group_id}/{self.model} -> {self.channel_id}"
