"""Users and groups. Quota fields are integers in quota units (QUOTA_PER_USD per dollar)."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core import roles

from .quota_range import quota_max_validator

DEFAULT_GROUP = "default"


class Group(models.Model):
    """A pricing and routing tier: users and channels belong to groups."""

    name = models.SlugField(_("name"), max_length=32, unique=True)
    ratio = models.DecimalField(
        _("price ratio"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Multiplies every price for users of this group, e.g. 0.8 for 20% off."),
    )
    description = models.CharField(_("description"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name"]

    def __str__(self):
        return self.name


def default_group_id() -> int:
    """The pk of the `default` group, created on first use (it must always exist)."""
    group, _created = Group.objects.get_or_create(name=DEFAULT_GROUP)
    return group.pk


class UserRole(models.TextChoices):
    USER = roles.USER, _("User")
    ADMIN = roles.ADMIN, _("Admin")
    ROOT = roles.ROOT, _("Root")


class UserStatus(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    DISABLED = "disabled", _("Disabled")


class User(AbstractUser):
    """A person or app owner with a quota balance. Role drives Django's staff flags."""

    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    role = models.CharField(
        _("role"), max_length=8, choices=UserRole.choices, default=UserRole.USER
    )
    status = models.CharField(
        _("status"), max_length=8, choices=UserStatus.choices, default=UserStatus.ENABLED
    )
    group = models.ForeignKey(
        Group,
        verbose_name=_("group"),
        on_delete=models.PROTECT,
        blank=True,
        related_name="users",
        help_text=_("Empty means the default group."),
    )
    quota = models.BigIntegerField(
        _("remaining quota"), default=0, validators=[quota_max_validator]
    )
    used_quota = models.BigIntegerField(
        _("used quota"), default=0, validators=[quota_max_validator]
    )
    request_count = models.BigIntegerField(_("request count"), default=0)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def save(self, *args, **kwargs):
        if self.group_id is None:
            self.group_id = default_group_id()
        self.sync_role_flags()
        super().save(*args, **kwargs)

    def sync_role_flags(self) -> None:
        """Admins and root get into the admin site; root is the only superuser role.
        A superuser created by Django's tools is treated as root."""
        if self.is_superuser and self.role != UserRole.ROOT:
            self.role = UserRole.ROOT
        self.is_superuser = self.role == UserRole.ROOT
        self.is_staff = self.role in (UserRole.ADMIN, UserRole.ROOT)
        self.is_active = self.status == UserStatus.ENABLED

    @property
    def is_admin(self) -> bool:
        return self.role in (UserRole.ADMIN, UserRole.ROOT)

    def is_usable(self) -> bool:
        return self.status == UserStatus.ENABLED
