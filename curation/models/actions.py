"""What the dataset page's buttons started: one DatasetAction per click (issue 18).

An action of a kind runs at most once per dataset at a time: a partial unique constraint on the
running rows, so a second click is refused by the database, not by a read that races. Sync kinds
finish inside their request; train, score and export stay running until their Celery job ends.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models.media import Dataset
from curation.models.modelling import ModelRun
from curation.models.releases import ExportJob


class ActionKind(models.TextChoices):
    INGEST = "ingest", "Ingest a manifest"
    CREATE_TASKS = "create_tasks", "Create annotation tasks"
    AGGREGATE = "aggregate", "Aggregate answers"
    MAKE_SPLIT = "make_split", "Make a split"
    FREEZE_SPLIT = "freeze_split", "Freeze a split"
    TRAIN = "train", "Train the baseline models"
    SCORE = "score", "Score the dataset"
    EXPORT = "export", "Export"
    RETRY = "retry", "Retry failed stages"


class DatasetAction(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=ActionKind)
    state = models.CharField(max_length=10, choices=State, default=State.RUNNING)
    params = models.JSONField(default=dict, blank=True, help_text="What was asked (the request's input).")
    message = models.TextField(blank=True, help_text="The outcome in a sentence, or the error.")
    result = models.JSONField(default=dict, blank=True, help_text="The service's summary.")
    # Only for kinds whose progress is known nowhere else (score); export and train read their job's.
    progress = models.FloatField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    export_job = models.ForeignKey(
        ExportJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )
    model_run = models.ForeignKey(
        ModelRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "kind"],
                condition=Q(state="running"),
                name="dataset_action_one_running_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(state="running", finished_at__isnull=True)
                | (~Q(state="running") & Q(finished_at__isnull=False)),
                name="dataset_action_finished_when_not_running",
            ),
        ]
        indexes = [models.Index(fields=["dataset", "-started_at"], name="dataset_action_recent")]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.kind} {self.id} ({self.state})"
