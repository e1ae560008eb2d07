"""Bookkeeping rows other subsystems write (quota flush batches, import records): shown
read-only so operators can audit them, never edited by hand."""

from django.contrib import admin

from ..models import FlushBatch, ImportedRecord
from .base import ReadOnlyAdmin


@admin.register(FlushBatch)
class FlushBatchAdmin(ReadOnlyAdmin):
    date_hierarchy = "applied_at"
    show_full_result_count = False
    list_display = ("batch_id", "applied_at", "log_rows", "deltas")
    list_filter = ("applied_at",)
    search_fields = ("=batch_id",)
    list_select_related = False  # no foreign keys


@admin.register(ImportedRecord)
class ImportedRecordAdmin(ReadOnlyAdmin):
    list_display = ("source", "kind", "source_id", "object_id", "imported_at")
    list_filter = ("kind", "source")
    search_fields = ("=source_id", "source")
    list_select_related = False  # plain ids, no foreign keys
