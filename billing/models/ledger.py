"""The history: one log row per consumption, top-up, management or system event, and
redemption codes. Deleting a user, token or channel keeps its log rows (SET_NULL plus
denormalised names)."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .quota_range import quota_max_validator


class LogType(models.TextChoices):
    CONSUME = "consume", _("Consume")
    TOPUP = "topup", _("Top-up")
    MANAGE = "manage", _("Manage")
    SYSTEM = "system", _("System")
    ERROR = "error", _("Error")
    TEST = "test", _("Test")


# The rows a relayed request writes. Their `content` is the upstream's raw answer to a
# failed attempt (an error page may name internal hosts and versions): operators only.
REQUEST_LOG_TYPES = frozenset({LogType.CONSUME, LogType.ERROR})


class Log(models.Model):
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    type = models.CharField(_("type"), max_length=8, choices=LogType.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="logs",
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    token = models.ForeignKey(
        "billing.Token",
        verbose_name=_("token"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="logs",
    )
    token_name = models.CharField(_("token name"), max_length=64, blank=True)
    channel = models.ForeignKey(
        "channels_app.Channel",
        verbose_name=_("channel"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="logs",
    )
    model = models.CharField(_("model"), max_length=128, blank=True)
    group_name = models.CharField(_("group"), max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    cached_tokens = models.PositiveIntegerField(_("cached tokens"), default=0)
    quota = models.BigIntegerField(_("quota"), default=0)
    price = models.JSONField(_("price snapshot"), null=True, blank=True)
    is_stream = models.BooleanField(_("stream"), default=False)
    elapsed_ms = models.PositiveIntegerField(_("elapsed ms"), default=0)
    ttfb_ms = models.PositiveIntegerField(_("first byte ms"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(_("status"), default=200)
    error = models.TextField(_("error"), blank=True)
    channels_tried = models.JSONField(_("channels tried"), default=list, blank=True)
    content = models.TextField(_("content"), blank=True)

    class Meta:
        verbose_name = _("log")
        verbose_name_plural = _("logs")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="log_created"),
            models.Index(fields=["type", "-created_at"], name="log_type_created"),
            models.Index(fields=["user", "-created_at"], name="log_user_created"),
            models.Index(fields=["token", "-created_at"], name="log_token_created"),
            models.Index(fields=["channel", "-created_at"], name="log_channel_created"),
            models.Index(fields=["model", "-created_at"], name="log_model_created"),
            models.Index(fields=["request_id"], name="log_request_id"),
        ]

    def __str__(self):
        return f"{self.get_type_display()} {self.model} {self.quota}"

    def content_for(self, operator: bool) -> str:
        """`content` as shown to an operator (all of it) or to the row's owner (nothing of
        a request row: it holds the upstream's answer; top-up and other notes stay)."""
        if operator or self.type not in REQUEST_LOG_TYPES:
            return self.content
        return ""


class RedemptionStatus(models.TextChoices):
    UNUSED = "unused", _("Unused")
    USED = "used", _("Used")
    DISABLED = "disabled", _("Disabled")


def generate_redemption_code() -> str:
    return secrets.token_hex(16)


class Redemption(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True, default=generate_redemption_code)
    name = models.CharField(_("name"), max_length=64, blank=True)
    quota = models.BigIntegerField(
        _("quota"), validators=[MinValueValidator(1), quota_max_validator]
    )
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.UNUSED,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("redeemed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="redemptions",
    )
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)

    class Meta:
        verbose_name = _("redemption code")
        verbose_name_plural = _("redemption codes")
        ordering = ["-created_at"]

    def __str__(self):
        return self.name or self.code[:8]
