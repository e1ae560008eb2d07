"""The ledger of applied quota flush batches: what makes the batch flush exactly-once.

A flush moves the pending usage deltas into a batch with a fresh id and applies it in one
database transaction that also inserts the batch's row here. A batch whose row exists was
applied, whatever happened to the flusher afterwards; one without a row was not.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FlushBatch(models.Model):
    batch_id = models.CharField(_("batch id"), max_length=64, primary_key=True)
    applied_at = models.DateTimeField(_("applied"), default=timezone.now, db_index=True)
    log_rows = models.PositiveIntegerField(_("log rows"), default=0)
    deltas = models.PositiveIntegerField(_("counters moved"), default=0)

    class Meta:
        verbose_name = _("quota flush batch")
        verbose_name_plural = _("quota flush batches")
        ordering = ["-applied_at"]

    def __str__(self):
        return self.batch_id
