"""Admin for the baseline models: training runs (started from a frozen split), their metrics,
and each video's scores (read-only: a score is recomputed, never edited)."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from curation.errors import CurationError
from curation.models import ModelRun, VideoScore
from curation.services.modelling import model_run_create, model_run_enqueue


@admin.register(ModelRun)
class ModelRunAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "dataset",
        "split",
        "status",
        "progress",
        "fused_mca",
        "train_seconds",
        "created_at",
    ]
    list_filter = ["dataset", "status"]
    list_select_related = ["dataset", "split"]
    exclude = ["state"]
    readonly_fields = [
        "dataset", "split", "version", "status", "settings", "progress", "stage", "train_seconds", "error",
        "created_by", "created_at", "started_at", "finished_at", "metrics_table", "per_topic_table",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False  # started from a frozen split (Splits → action), the command or the API

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="fused val mca")
    def fused_mca(self, obj: ModelRun) -> str:
        fused = (obj.metrics or {}).get("fused", {}).get((obj.metrics or {}).get("used") or "usv", {})
        value = ((fused.get("val") or {}).get("mca") or {}).get("value")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description="metrics")
    def metrics_table(self, obj: ModelRun) -> str:
        metrics = obj.metrics or {}
        if metrics.get("refused"):
            return f"accuracy not reported: {metrics['refused']}"
        rows = list(metrics.get("branches", {}).items())
        rows += [(f"fused ({k})", v) for k, v in metrics.get("fused", {}).items() if k in ("usv", "fitted")]
        names = ("mca", "top1", "top5", "map_tag", "map_video", "macro_f", "micro_f")
        head = format_html_join("", "<th>{}</th>", ((f"{s} {n}",) for s in ("val", "test") for n in names))
        body = format_html_join(
            "",
            "<tr><td>{}</td>{}</tr>",
            (
                (
                    name,
                    format_html_join(
                        "", "<td>{}</td>", ((_cell(v, s, n),) for s in ("val", "test") for n in names)
                    ),
                )
                for name, v in rows
            ),
        )
        return format_html("<table><tr><th>model</th>{}</tr>{}</table>", head, body)

    @admin.display(description="per-topic AP (test)")
    def per_topic_table(self, obj: ModelRun) -> str:
        topics = (obj.metrics or {}).get("per_topic", [])
        return format_html(
            "<table><tr><th>topic</th><th>AP</th><th>training examples</th><th>status</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (t.get("name", t.get("index")), "-" if t.get("ap") is None else f"{t['ap']:.3f}",
                     t.get("n_train"), t.get("status"))
                    for t in topics
                ),
            ),
        )  # fmt: skip


def _cell(values: dict, subset: str, name: str) -> str:
    metric = (values.get(subset) or {}).get(name) or {}
    return "-" if metric.get("value") is None else f"{metric['value']:.3f} (n={metric.get('n')})"


@admin.register(VideoScore)
class VideoScoreAdmin(admin.ModelAdmin):
    list_display = ["video", "model_version", "weak_topic_probability", "top_topic", "scored_at"]
    list_filter = ["model_version"]
    list_select_related = ["video"]
    search_fields = ["video__external_id"]
    fields = ["video", "model_version", "weak_topic_probability", "top_topics_text", "branches_text",
              "thumbnail_scores", "thumbnail_frame", "scored_at"]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="top topic")
    def top_topic(self, obj: VideoScore) -> str:
        return obj.top_topics[0]["name"] if obj.top_topics else "-"

    @admin.display(description="top topics")
    def top_topics_text(self, obj: VideoScore) -> str:
        return ", ".join(f"{t['name']} {t['score']:.3f}" for t in obj.top_topics)

    @admin.display(description="branches")
    def branches_text(self, obj: VideoScore) -> str:
        return json.dumps(obj.branches, ensure_ascii=False)


@admin.action(description="Train the baseline models on the selected frozen split (ml queue)")
def split_train_action(modeladmin, request, queryset):
    for split in queryset.select_related("dataset"):
        try:
            run = model_run_create(dataset=split.dataset, split_name=split.name, user=request.user)
        except CurationError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            continue
        model_run_enqueue(run=run)
        modeladmin.message_user(request, f"{run.version} queued on the ml queue")
