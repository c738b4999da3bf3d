from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from curation.admin_models import PrelabelFilter, video_prelabels_accept_action
from curation.errors import CurationError
from curation.models import Dataset, IngestRun, Publisher, StageStatus, Topic, Video, VideoSubtitle
from curation.services.ingest import video_ingest_upload


class IngestUploadForm(forms.Form):
    manifest = forms.FileField(help_text="A JSONL or CSV manifest (fields: video, id, title, topic, …)")
    pipeline = forms.ChoiceField(choices=[("queue", "queue"), ("none", "none")], initial="queue")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "video_count", "topic_count", "open_world_topics", "created_at"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["ingest_link"]

    @admin.display(description="videos")
    def video_count(self, obj: Dataset) -> int:
        return obj.videos.count()

    @admin.display(description="topics")
    def topic_count(self, obj: Dataset) -> int:
        return obj.topics.count()

    @admin.display(description="ingest")
    def ingest_link(self, obj: Dataset) -> str:
        if not obj.pk:
            return "Save the dataset first."
        return format_html(
            '<a href="{}">Upload a manifest</a>', reverse("admin:curation_dataset_ingest", args=[obj.pk])
        )

    def get_urls(self):
        extra = [
            path(
                "<int:dataset_id>/ingest/",
                self.admin_site.admin_view(self.ingest_view),
                name="curation_dataset_ingest",
            )
        ]
        return extra + super().get_urls()

    def ingest_view(self, request, dataset_id: int):
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        if not self.has_change_permission(request, dataset):
            return redirect("admin:index")
        form = IngestUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["manifest"]
            try:
                summary = video_ingest_upload(
                    dataset=dataset, upload=upload, pipeline=form.cleaned_data["pipeline"]
                )
            except CurationError as exc:
                messages.error(request, str(exc))
                return redirect(request.path)
            level = messages.WARNING if summary.rejected else messages.SUCCESS
            messages.add_message(request, level, f"{upload.name}: {summary}")
            for error in summary.errors[:20]:
                messages.warning(request, str(error))
            return redirect("admin:curation_ingestrun_change", summary.run_id)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "dataset": dataset,
            "opts": self.model._meta,
        }
        return render(request, "admin/curation/dataset/ingest.html", context)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "macro_topic", "dataset"]
    list_filter = ["dataset", "macro_topic"]
    search_fields = ["name", "macro_topic"]


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = ["external_id", "followers", "dataset"]
    list_filter = ["dataset"]
    search_fields = ["external_id"]


@admin.register(IngestRun)
class IngestRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "dataset",
        "source",
        "status",
        "rows_read",
        "created",
        "unchanged",
        "rejected",
        "started_at",
    ]
    list_filter = ["dataset", "status"]
    readonly_fields = [f.name for f in IngestRun._meta.fields]


class VideoSubtitleInline(admin.StackedInline):
    """The OCR stage's result, read-only: re-run the stage to change it."""

    model = VideoSubtitle
    fields = [
        "text", "reason", "watermarks", "languages",
        "frames_read", "frames_reused", "frames_skipped", "seconds",
    ]  # fmt: skip
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "dataset",
        "weak_topic",
        "probe_status",
        "frames_status",
        "frames_link",
        "ocr_status",
        "duration",
        "display_size",
        "has_audio",
        "video_codec",
        "error",
    ]
    list_filter = [
        "dataset",
        "probe_status",
        "frames_status",
        "ocr_status",
        "has_audio",
        "source_kind",
        "video_codec",
        "weak_topic__macro_topic",
        PrelabelFilter,
    ]
    actions = [video_prelabels_accept_action]
    search_fields = ["external_id", "title", "source"]
    list_select_related = ["dataset", "weak_topic"]
    raw_id_fields = ["weak_topic", "publisher", "ingest_run"]
    # What ffprobe measured is the probe stage's to write (run it again to change it): a value
    # typed by hand here would disagree with the file every later stage reads.
    probe_fields = [
        "duration",
        "duration_source",
        "fps",
        "width",
        "height",
        "rotation",
        "display_width",
        "display_height",
        "has_audio",
        "video_codec",
        "audio_codec",
        "container",
        "size_bytes",
        "probed_at",
    ]
    readonly_fields = ["created_at", "updated_at", *probe_fields, "frames_link", "duplicate_group"]
    inlines = [VideoSubtitleInline]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is None:
            return fields
        # The admin asks several times per request and matches the answers by identity: one
        # player (its link signed for this user) per request.
        if not hasattr(request, "_video_admin_player"):
            request._video_admin_player = _proxy_player(request.user)
        return [request._video_admin_player, *fields]

    @admin.display(description="frames")
    def frames_link(self, obj: Video) -> str:
        return format_html('<a href="{}">filmstrip</a>', reverse("frontend:filmstrip", args=[obj.id]))

    @admin.display(description="display size")
    def display_size(self, obj: Video) -> str:
        return f"{obj.display_width}x{obj.display_height}" if obj.display_width else "-"


def _proxy_player(user):
    """The change page's player of the browser-playable copy, through the signed media link staff
    may follow without holding a task (the original upload is never served)."""
    from annotator.media_links import media_token  # the one maker of media links

    @admin.display(description="proxy")
    def proxy(obj: Video) -> str:
        if obj.proxy_status != StageStatus.DONE:
            return f"no playable copy yet (proxy stage: {obj.proxy_status})"
        token = media_token(user_id=user.pk, video_id=obj.id, assignment_id=None)
        return format_html(
            '<video class="proxy" src="{}" controls muted playsinline preload="metadata" width="320">'
            "</video>",
            reverse("annotator:media", args=[token]),
        )

    return proxy


# Each sub-domain registers its own models.
from curation import admin_actions, admin_exports, admin_labels, admin_models, admin_splits  # noqa: E402, F401
