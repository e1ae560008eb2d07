"""Daily usage rollups, so dashboards and the usage API never scan the raw log table."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyUsage(models.Model):
    """Totals of consume logs per (day, user, token, channel, model)."""

    day = models.DateField(_("day"))
    # Plain ids, not foreign keys: rollups outlive deleted users, tokens and channels,
    # and 0 (not NULL) for "none" keeps the unique key portable across databases.
    user_id = models.BigIntegerField(_("user id"), default=0)
    token_id = models.BigIntegerField(_("token id"), default=0)
    channel_id = models.BigIntegerField(_("channel id"), default=0)
    model = models.CharField(_("model"), max_length=128)
    requests = models.BigIntegerField(_("requests"), default=0)
    errors = models.BigIntegerField(_("errors"), default=0)
    prompt_tokens = models.BigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.BigIntegerField(_("completion tokens"), default=0)
    quota = models.BigIntegerField(_("quota"), default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user_id", "token_id", "channel_id", "model"],
                name="daily_usage_unique",
            )
        ]
        indexes = [
            models.Index(fields=["day"], name="usage_day"),
            models.Index(fields=["user_id", "day"], name="usage_user_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.model}"
