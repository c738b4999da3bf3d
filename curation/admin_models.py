"""Admin for the baseline models: training runs (started from a frozen split), their metrics,
each video's scores (read-only: a score is recomputed, never edited) and its pre-label: filters
by it (here and on the video list) and actions that accept pre-labels as model verdicts."""

import json
from collections import defaultdict

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils.html import format_html, format_html_join

from curation.errors import CurationError
from curation.models import Dataset, ModelRun, VideoScore
from curation.services.modelling import prelabels_accept
from curation.services.modelling.prelabels import prelabel_runs


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


def _accept(modeladmin, request, video_ids_by_dataset: dict[int, list[int]], skipped: int = 0) -> None:
    """Accept the pre-labels of these videos, one acceptance per dataset, and say what happened."""
    datasets = Dataset.objects.in_bulk(list(video_ids_by_dataset))
    for dataset_id, video_ids in video_ids_by_dataset.items():
        try:
            summary = prelabels_accept(dataset=datasets[dataset_id], video_ids=video_ids, user=request.user)
        except CurationError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            continue
        level = messages.WARNING if summary.without_prelabel else messages.SUCCESS
        modeladmin.message_user(request, str(summary), level)
    if skipped:
        modeladmin.message_user(
            request,
            f"{skipped} selected score(s) are not pre-labels (zero-shot, or not the dataset's latest "
            f"model run): left alone",
            messages.WARNING,
        )


@admin.action(description="Accept the selected pre-labels as model verdicts (never human ones)")
def score_prelabels_accept_action(modeladmin, request, queryset):
    latest = {run.id for run in prelabel_runs().values()}
    chosen: dict[int, list[int]] = defaultdict(list)
    skipped = 0
    for video_id, dataset_id, run_id in queryset.values_list("video_id", "video__dataset_id", "model_run_id"):
        if run_id in latest:
            chosen[dataset_id].append(video_id)
        else:
            skipped += 1
    _accept(modeladmin, request, chosen, skipped)


@admin.action(description="Accept the selected videos' pre-labels as model verdicts (never human ones)")
def video_prelabels_accept_action(modeladmin, request, queryset):
    chosen: dict[int, list[int]] = defaultdict(list)
    for video_id, dataset_id in queryset.values_list("id", "dataset_id"):
        chosen[dataset_id].append(video_id)
    _accept(modeladmin, request, chosen)


class PrelabelFilter(admin.SimpleListFilter):
    """A video's pre-label: the likely-noise flag of its score from its dataset's latest model run."""

    title = "pre-label"
    parameter_name = "prelabel"

    def lookups(self, request, model_admin):
        return [("noise", "likely noise"), ("right", "likely right"), ("none", "none")]

    def queryset(self, request, queryset):
        if self.value() not in ("noise", "right", "none"):
            return queryset
        runs = [run.id for run in prelabel_runs().values()]
        scores = VideoScore.objects.filter(video_id=OuterRef("id"), model_run_id__in=runs)
        if self.value() == "none":
            return queryset.exclude(Exists(scores.filter(likely_noise__isnull=False)))
        return queryset.filter(Exists(scores.filter(likely_noise=self.value() == "noise")))


@admin.register(VideoScore)
class VideoScoreAdmin(admin.ModelAdmin):
    list_display = [
        "video", "model_version", "weak_topic_probability", "likely_noise", "top_topic", "scored_at",
    ]  # fmt: skip
    list_filter = ["likely_noise", "model_version"]
    list_select_related = ["video"]
    search_fields = ["video__external_id"]
    actions = [score_prelabels_accept_action]
    fields = ["video", "model_version", "weak_topic_probability", "likely_noise", "top_topics_text",
              "branches_text", "thumbnail_scores", "thumbnail_frame", "scored_at"]  # fmt: skip
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
    # Imported here: training brings numpy, and the admin loads with every process (django.setup).
    from curation.services.modelling import model_run_create, model_run_enqueue

    for split in queryset.select_related("dataset"):
        try:
            run = model_run_create(dataset=split.dataset, split_name=split.name, user=request.user)
        except CurationError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            continue
        model_run_enqueue(run=run)
        modeladmin.message_user(request, f"{run.version} queued on the ml queue")
