"""Which rows an importer created from which source row, so re-running it is a no-op."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportedRecord(models.Model):
    """One source row (e.g. One API channel 7 of a given database) -> our object's pk."""

    source = models.CharField(_("source"), max_length=255)
    kind = models.CharField(_("kind"), max_length=32)
    source_id = models.CharField(_("source id"), max_length=64)
    object_id = models.BigIntegerField(_("object id"))
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        verbose_name = _("imported record")
        verbose_name_plural = _("imported records")
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_id"],
                                    name="imported_record_unique")
        ]

    def __str__(self):
        return f"{self.source} {self.kind} {self.source_id} -> {self.object_id}"
