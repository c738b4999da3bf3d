"""What a dataset releases: versioned train/val/test splits and the export jobs that write them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models.media import Dataset, Video


class Split(models.Model):
    """A named version of a dataset's split. Frozen, it never changes again (the services refuse
    and a database trigger on PostgreSQL backs them)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="splits")
    name = models.SlugField(max_length=50, help_text="The version name, e.g. v1.")
    ratios = models.JSONField(help_text="Subset name → share, e.g. {'train': 0.8, 'val': 0.1, 'test': 0.1}.")
    seed = models.IntegerField(default=0)
    verdict_method = models.CharField(
        max_length=5, blank=True, help_text="Whose verdicts decided noise (blank: none existed)."
    )
    sizes = models.JSONField(default=dict, help_text="Subset name → videos.")
    stats = models.JSONField(default=dict, blank=True, help_text="Excluded noise, small topics, blocks.")
    frozen_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="split_unique_name_per_dataset"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.name}{' (frozen)' if self.is_frozen else ''}"

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None


class SplitMember(models.Model):
    """Where one video landed. `subset` is blank for verified noise kept out of val/test."""

    split = models.ForeignKey(Split, on_delete=models.CASCADE, related_name="members")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="split_memberships")
    subset = models.CharField(max_length=50, blank=True)
    is_noise = models.BooleanField(default=False, help_text="Verified label noise (kept, flagged, in train).")

    class Meta:
        ordering = ["split_id", "video_id"]
        constraints = [
            models.UniqueConstraint(fields=["split", "video"], name="split_member_once_per_split"),
        ]
        indexes = [models.Index(fields=["split", "subset"], name="split_member_subset")]

    def __str__(self) -> str:
        return f"{self.split_id}:{self.video_id} → {self.subset or '(excluded)'}"


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON lines"
    CSV = "csv", "CSV"
    MMACTION = "mmaction", "MMAction2 video lists"
    WEBDATASET = "webdataset", "WebDataset tar shards"
    PARQUET = "parquet", "Parquet"
    SRT = "srt", "Subtitles (SRT per video)"


class ExportJob(models.Model):
    """An export running in the background. Files appear under `directory` only when complete."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="exports")
    split = models.ForeignKey(Split, on_delete=models.PROTECT, null=True, blank=True, related_name="exports")
    format = models.CharField(max_length=12, choices=ExportFormat)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    directory = models.CharField(max_length=1024, blank=True, help_text="The finished export's folder.")
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with each chunk of progress: a RUNNING job whose heartbeat stopped (its worker died)
    # may be taken over by the next run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second request for the same version and format while one runs reuses it.
            # Two partial indexes rather than one with NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["split", "format"],
                condition=Q(status__in=["queued", "running"], split__isnull=False),
                name="export_one_active_per_split",
            ),
            models.UniqueConstraint(
                fields=["dataset", "format"],
                condition=Q(status__in=["queued", "running"], split__isnull=True),
                name="export_one_active_per_dataset",
            ),
            models.CheckConstraint(
                condition=Q(rows_done__lte=models.F("rows_total")) | Q(rows_total=0),
                name="export_progress_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.format} export {self.id} ({self.status})"

    @property
    def progress(self) -> float:
        return (
            self.rows_done / self.rows_total if self.rows_total else (1.0 if self.status == "done" else 0.0)
        )
