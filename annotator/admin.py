from django.contrib import admin, messages

from annotator.errors import AnnotationError
from annotator.models import AnnotatorProfile, Answer, Task
from annotator.services.creation import tasks_create
from annotator.services.quality import annotator_set_excluded, annotator_set_paused
from curation.admin import DatasetAdmin


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "video", "topic", "answered", "needed", "verdict", "is_gold", "priority"]
    list_filter = ["kind", "verdict", "is_gold", "dataset"]
    raw_id_fields = ["video", "topic", "truth_frame", "verdict_frame"]
    readonly_fields = ["answered", "agreement", "escalated"]


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "worker", "choice", "frame", "is_gold", "correct", "seconds", "created_at"]
    list_filter = ["is_gold", "choice"]
    raw_id_fields = ["task", "assignment", "worker", "frame"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # answers change only through the services (verdicts follow them)


@admin.register(AnnotatorProfile)
class AnnotatorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "is_paused", "answers_excluded", "updated_at"]
    list_filter = ["is_paused", "answers_excluded"]
    readonly_fields = ["is_paused", "answers_excluded"]
    actions = ["pause", "resume", "exclude_answers", "include_answers"]

    @admin.action(description="Pause the selected workers")
    def pause(self, request, queryset):
        for profile in queryset:
            annotator_set_paused(worker=profile.user, paused=True)

    @admin.action(description="Let the selected workers work again")
    def resume(self, request, queryset):
        for profile in queryset:
            annotator_set_paused(worker=profile.user, paused=False)

    @admin.action(description="Exclude their answers from verdicts")
    def exclude_answers(self, request, queryset):
        tasks = sum(annotator_set_excluded(worker=p.user, excluded=True) for p in queryset)
        messages.success(request, f"{tasks} tasks recomputed.")

    @admin.action(description="Count their answers again")
    def include_answers(self, request, queryset):
        tasks = sum(annotator_set_excluded(worker=p.user, excluded=False) for p in queryset)
        messages.success(request, f"{tasks} tasks recomputed.")


def _create_tasks_action(kind: str):
    def action(modeladmin, request, queryset):
        for dataset in queryset:
            try:
                messages.success(request, f"{dataset.slug}: {tasks_create(dataset=dataset, kind=kind)}")
            except AnnotationError as exc:
                messages.error(request, f"{dataset.slug}: {exc}")

    action.__name__ = f"create_{kind}_tasks"
    return admin.action(description=f"Create {kind} annotation tasks")(action)


# Added from here, not in curation/admin.py: dependencies point annotator → curation.
DatasetAdmin.actions = [
    *(DatasetAdmin.actions or []),
    _create_tasks_action("topic"),
    _create_tasks_action("thumbnail"),
]
