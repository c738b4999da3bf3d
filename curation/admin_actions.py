"""Admin for the dataset page's actions: read only (they are started from the page or the API)."""

from django.contrib import admin

from curation.models import DatasetAction


@admin.register(DatasetAction)
class DatasetActionAdmin(admin.ModelAdmin):
    list_display = ["id", "dataset", "kind", "state", "started_by", "started_at", "finished_at", "message"]
    list_filter = ["kind", "state", "dataset"]
    list_select_related = ["dataset", "started_by"]
    search_fields = ["message"]
    readonly_fields = [f.name for f in DatasetAction._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
