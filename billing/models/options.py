"""Runtime options editable in the admin (retry count, auto-disable rules, ...).

Values are JSON; the list of known options with their types and defaults lives in
billing/option_specs.py, which also caches them so the relay never reads this table per request.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Option(models.Model):
    key = models.CharField(_("key"), max_length=64, primary_key=True)
    value = models.JSONField(_("value"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["key"]

    def __str__(self):
        return self.key
