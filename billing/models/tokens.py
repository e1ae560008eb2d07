"""Client API keys. Only a hash and a short visible prefix are stored; the full key is
shown once, when created."""

import hashlib
import ipaddress
import secrets
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .quota_range import quota_max_validator

KEY_PREFIX = "sk-"
KEY_BODY_LENGTH = 48
VISIBLE_PREFIX_LENGTH = 8  # "sk-" plus 5 characters: enough to tell keys apart in lists
_KEY_ALPHABET = string.ascii_letters + string.digits


def generate_key() -> str:
    """A new client key: `sk-` followed by 48 random letters and digits."""
    return KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(KEY_BODY_LENGTH))


def hash_key(key: str) -> str:
    """The stored form of a key. Keys are long random strings, so a fast hash is safe."""
    return hashlib.sha256(key.encode()).hexdigest()


def validate_networks(value) -> None:
    """Every entry must be an IP address or a CIDR network."""
    if not isinstance(value, list):
        raise ValidationError(_("Enter a list of IP addresses or CIDR networks."))
    for entry in value:
        try:
            ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            raise ValidationError(
                _("%(entry)s is not an IP address or CIDR network."), params={"entry": entry}
            ) from None


def validate_string_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValidationError(_("Enter a list of non-empty strings."))


class TokenStatus(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    DISABLED = "disabled", _("Disabled")
    EXPIRED = "expired", _("Expired")
    EXHAUSTED = "exhausted", _("Exhausted")


class Token(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="tokens",
    )
    name = models.CharField(_("name"), max_length=64)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(_("key"), max_length=16, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=TokenStatus.choices, default=TokenStatus.ENABLED
    )
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, help_text=_("Empty means never.")
    )
    remain_quota = models.BigIntegerField(
        _("remaining quota"), default=0, validators=[quota_max_validator]
    )
    unlimited_quota = models.BooleanField(_("unlimited quota"), default=False)
    used_quota = models.BigIntegerField(_("used quota"), default=0)
    allowed_models = models.JSONField(
        _("allowed models"),
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text=_("Empty means every model the owner's group can use."),
    )
    subnets = models.JSONField(
        _("allowed client IPs"),
        default=list,
        blank=True,
        validators=[validate_networks],
        help_text=_("IP addresses or CIDR networks; empty means any."),
    )
    rpm_limit = models.PositiveIntegerField(_("requests per minute"), default=0)
    tpm_limit = models.PositiveIntegerField(_("tokens per minute"), default=0)
    max_concurrency = models.PositiveIntegerField(
        _("concurrent requests"),
        default=0,
        help_text=_("Requests (streams included) this key may have in progress at once; "
                    "0 means no limit."),
    )
    # Limits an operator set on someone else's token (billing/token_policy.py): the owner
    # may tighten these fields, never loosen them. The relay reads only the fields above.
    ceilings = models.JSONField(
        _("operator's ceilings"), default=dict, blank=True, editable=False,
        help_text=_("Limits an operator set: the owner may tighten these fields, not "
                    "loosen them."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("token")
        verbose_name_plural = _("tokens")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status"])]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"

    def set_key(self, key: str) -> None:
        """Store `key` as hash and visible prefix; the caller shows the key once."""
        self.key_hash = hash_key(key)
        self.key_prefix = key[:VISIBLE_PREFIX_LENGTH]

    def assign_new_key(self) -> str:
        key = generate_key()
        self.set_key(key)
        return key

    def is_expired(self, now) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_usable(self, now) -> bool:
        """Enabled, not past expiry, and with quota left (or unlimited)."""
        return (
            self.status == TokenStatus.ENABLED
            and not self.is_expired(now)
            and (self.unlimited_quota or self.remain_quota > 0)
        )

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    def allows_ip(self, ip: str) -> bool:
        if not self.subnets:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.subnets)

    def clean(self):
        super().clean()
        if self.remain_quota < 0:
            raise ValidationError({"remain_quota": _("Quota cannot be negative.")})
        if self._state.adding and self.expires_at and self.expires_at <= timezone.now():
            raise ValidationError({"expires_at": _("The expiry time is in the past.")})
