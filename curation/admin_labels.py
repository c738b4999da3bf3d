"""Admin for labels: read-only views of imported answers, aggregation runs, verdicts and noise
estimates (they are written by `import_answers` and the aggregation, never by hand)."""

from django.contrib import admin

from curation.models import AggregationRun, ExternalAnswer, NoiseEstimate, VideoVerdict


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ExternalAnswer)
class ExternalAnswerAdmin(ReadOnlyAdmin):
    list_display = ["video", "worker", "label", "gold", "source", "dataset", "imported_at"]
    list_filter = ["dataset", "label", "source"]
    search_fields = ["video__external_id", "worker", "source"]
    list_select_related = ["video", "dataset"]


@admin.register(AggregationRun)
class AggregationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "dataset", "method", "requested", "items", "answers", "workers", "excluded_workers",
        "iterations", "converged", "seconds", "created_at",
    ]  # fmt: skip
    list_filter = ["dataset", "method"]
    list_select_related = ["dataset"]


@admin.register(VideoVerdict)
class VideoVerdictAdmin(ReadOnlyAdmin):
    list_display = [
        "video",
        "method",
        "label",
        "confidence",
        "answers_used",
        "answers",
        "disputed",
        "from_gold",
    ]
    list_filter = ["dataset", "method", "label", "disputed", "from_gold"]
    search_fields = ["video__external_id", "video__title"]
    list_select_related = ["video"]
    show_full_result_count = False  # a count of 250,000 verdicts on every page is a slow query


@admin.register(NoiseEstimate)
class NoiseEstimateAdmin(ReadOnlyAdmin):
    list_display = [
        "dataset", "estimator", "method", "scope", "key", "noisy", "n", "rate", "low", "high", "interval",
        "population", "expected_low", "expected_high", "created_at",
    ]  # fmt: skip
    list_filter = ["dataset", "estimator", "scope", "method"]
    search_fields = ["key"]
    list_select_related = ["dataset"]
