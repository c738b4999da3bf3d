"""Datasets, their taxonomy, publishers and videos. Constraints live in the database."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length

TITLE_MAX_LENGTH = 1000
SOURCE_MAX_LENGTH = 2048
EXTERNAL_ID_MAX_LENGTH = 255

models.CharField.register_lookup(Length)


class StageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Dataset(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    open_world_topics = models.BooleanField(
        default=False, help_text="Create topics that the taxonomy lacks instead of rejecting rows."
    )
    # Frame sampling and quality filters (thumbnail benchmark, section 3.2; cleanvision's defaults).
    sample_fps = models.FloatField(default=1.0)
    dark_threshold = models.FloatField(default=0.32)
    blur_threshold = models.FloatField(default=0.80)
    uniform_threshold = models.FloatField(default=3.0)
    near_duplicate_threshold = models.FloatField(default=0.22)
    thumbnail_check_similarity = models.FloatField(default=0.9)
    # USV Stage IV: two annotators per video.
    annotation_overlap = models.PositiveSmallIntegerField(default=2)
    settings = models.JSONField(default=dict, blank=True, help_text="Further per-dataset settings.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sample_fps__gt=0) & Q(sample_fps__lte=30), name="dataset_sample_fps_range"
            ),
            models.CheckConstraint(
                condition=Q(annotation_overlap__gte=1) & Q(annotation_overlap__lte=20),
                name="dataset_annotation_overlap_range",
            ),
            models.CheckConstraint(
                condition=Q(dark_threshold__gte=0) & Q(dark_threshold__lte=1),
                name="dataset_dark_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(thumbnail_check_similarity__gte=0) & Q(thumbnail_check_similarity__lte=1),
                name="dataset_thumbnail_similarity_range",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Topic(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="topics")
    name = models.CharField(max_length=200)
    macro_topic = models.CharField(max_length=200, blank=True)
    synonyms = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["macro_topic", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="topic_unique_name_per_dataset"),
            models.CheckConstraint(condition=~Q(name=""), name="topic_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.macro_topic} / {self.name}" if self.macro_topic else self.name


class Publisher(models.Model):
    # No index of its own: the unique (dataset, external_id) index serves it, and ingest pays per index.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="publishers", db_index=False)
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH)
    followers = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="publisher_unique_per_dataset"),
            models.CheckConstraint(
                condition=Q(followers__isnull=True) | Q(followers__gte=0),
                name="publisher_followers_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class IngestRun(models.Model):
    """One run of the ingest service: what it read, what it stored, what it rejected."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="ingest_runs")
    source = models.CharField(max_length=SOURCE_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status, default=Status.RUNNING)
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first row errors.")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.dataset.slug}: {self.source}"


class Video(models.Model):
    class SourceKind(models.TextChoices):
        FILE = "file", "Local file"
        URL = "url", "http(s) URL"

    # No index of its own: the unique (dataset, external_id) index serves lookups by dataset.
    # Every index costs each bulk-ingested row; keep only those a query needs.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="videos", db_index=False)
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH)
    source = models.CharField(max_length=SOURCE_MAX_LENGTH)
    source_kind = models.CharField(max_length=4, choices=SourceKind)
    local_path = models.CharField(
        max_length=SOURCE_MAX_LENGTH, blank=True, help_text="Resolved file the pipeline reads."
    )
    sha256 = models.CharField(max_length=64, null=True, blank=True)
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    weak_topic = models.ForeignKey(
        Topic,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="videos",
        help_text="The query the video was collected by: a weak, unverified label.",
    )
    publisher = models.ForeignKey(
        Publisher, on_delete=models.RESTRICT, null=True, blank=True, related_name="videos"
    )
    clicks = models.BigIntegerField(null=True, blank=True)
    thumbnail = models.CharField(
        max_length=SOURCE_MAX_LENGTH, blank=True, help_text="The posted thumbnail (path or URL)."
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Not indexed: runs are rarely deleted, and each index slows bulk ingest.
    ingest_run = models.ForeignKey(
        IngestRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="videos", db_index=False
    )

    # Probe results (ffprobe).
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    duration_source = models.CharField(max_length=20, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    rotation = models.SmallIntegerField(
        default=0, help_text="Display-matrix rotation as ffprobe reports it (degrees, e.g. -90)."
    )
    display_width = models.PositiveIntegerField(null=True, blank=True)
    display_height = models.PositiveIntegerField(null=True, blank=True)
    has_audio = models.BooleanField(null=True, blank=True)
    video_codec = models.CharField(max_length=50, blank=True)
    audio_codec = models.CharField(max_length=50, blank=True)
    container = models.CharField(max_length=100, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)

    # Pipeline: one status column per stage, claimed with a conditional UPDATE.
    probe_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    frames_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    proxy_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    # No index of its own (each one is paid by every ingested row).
    ocr_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    # The baseline models' stages (issue 15): audio features (media queue, after probe), text and
    # frame features, then scores (ml queue, last).
    audio_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    features_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    score_status = models.CharField(max_length=10, choices=StageStatus, default=StageStatus.PENDING)
    proxy_path = models.CharField(
        max_length=SOURCE_MAX_LENGTH,
        blank=True,
        help_text="Browser-playable H.264/AAC copy, relative to MEDIA_ROOT; the original is never served.",
    )
    error = models.TextField(blank=True, help_text="Why the last failed stage failed.")

    # Frames stage: a video-level signature (mean frame descriptor, float32 bytes) and the group
    # of near-duplicate videos (re-uploads) it belongs to; splits keep a group on one side.
    signature = models.BinaryField(null=True, blank=True, editable=False)
    duplicate_group = models.ForeignKey(
        "DuplicateGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="videos",
        db_index=False,  # indexed below only where set: ingest writes NULL and pays nothing
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    probed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "external_id"], name="video_unique_external_id_per_dataset"
            ),
            models.UniqueConstraint(
                fields=["dataset", "sha256"],
                condition=Q(sha256__isnull=False),
                name="video_unique_content_per_dataset",
            ),
            models.CheckConstraint(condition=~Q(external_id=""), name="video_external_id_not_empty"),
            models.CheckConstraint(condition=~Q(source=""), name="video_source_not_empty"),
            models.CheckConstraint(
                condition=Q(clicks__isnull=True) | Q(clicks__gte=0), name="video_clicks_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(duration__isnull=True) | Q(duration__gte=0),
                name="video_duration_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(rotation__in=[-270, -180, -90, 0, 90, 180, 270]),
                name="video_rotation_quarter_turns",
            ),
            models.CheckConstraint(
                condition=Q(sha256__isnull=True) | Q(sha256__length=64),
                name="video_sha256_hex_length",
            ),
        ]
        # No index on the stage status columns: every index is paid by each bulk-ingested row
        # (measured: this one cost about a quarter of the insert), and the per-dataset counts
        # read the dataset's rows through the unique (dataset, external_id) index anyway.
        indexes = [
            models.Index(
                fields=["duplicate_group"],
                condition=Q(duplicate_group__isnull=False),
                name="video_duplicate_group_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.external_id}"


class DuplicateGroup(models.Model):
    """Videos of one dataset that are near-duplicates of each other (re-uploads of one clip)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="duplicate_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset_id", "id"]

    def __str__(self) -> str:
        return f"{self.dataset_id}:group {self.id}"


class Frame(models.Model):
    """One sampled frame (JPEG under MEDIA_ROOT) with its quality scores, flags and cluster.

    Every score is stored, not only the flag, so thresholds can change without decoding again.
    """

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveIntegerField(help_text="Position in sampling order, from 0.")
    timestamp = models.FloatField(help_text="Seconds from the start of the video.")
    image = models.CharField(max_length=SOURCE_MAX_LENGTH, help_text="JPEG path relative to MEDIA_ROOT.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    brightness = models.FloatField(help_text="cleanvision's dark score: p99 perceived brightness, 0-1.")
    sharpness = models.FloatField(help_text="Contrast-normalised Laplacian of the sharpest pixels.")
    entropy = models.FloatField(help_text="Bits of the grayscale histogram.")
    spread = models.FloatField(help_text="(p95 - p5) of gray intensity / 255.")
    structure = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of 16x16 cells with an edge, 0-1; null if sampled before it was measured.",
    )
    descriptor = models.BinaryField(editable=False, help_text="Near-duplicate descriptor, float32 bytes.")
    is_dark = models.BooleanField(default=False)
    is_blurry = models.BooleanField(default=False)
    is_uniform = models.BooleanField(default=False)
    cluster = models.IntegerField(
        null=True, blank=True, help_text="Near-duplicate cluster among the good frames; null if flagged."
    )
    is_candidate = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["video_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "index"], name="frame_unique_index_per_video"),
            models.CheckConstraint(condition=Q(timestamp__gte=0), name="frame_timestamp_not_negative"),
            models.CheckConstraint(
                condition=Q(is_candidate=False) | Q(cluster__isnull=False), name="frame_candidate_has_cluster"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}#{self.index}@{self.timestamp:.2f}s"

    @property
    def flags(self) -> list[str]:
        return [name for name in ("dark", "blurry", "uniform") if getattr(self, f"is_{name}")]


class ThumbnailTruth(models.Model):
    """The thumbnail benchmark's ground truth: the candidate frame nearest to the posted thumbnail."""

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="thumbnail_truth")
    frame = models.ForeignKey(Frame, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    similarity = models.FloatField(null=True, blank=True, help_text="1 - descriptor distance, 0-1.")
    needs_check = models.BooleanField(default=False, help_text="Similarity below the dataset's threshold.")
    reason = models.TextField(blank=True, help_text="Why there is no ground-truth frame.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(similarity__isnull=True) | (Q(similarity__gte=0) & Q(similarity__lte=1)),
                name="thumbnail_truth_similarity_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}: frame {self.frame_id} ({self.similarity})"


class VideoSubtitle(models.Model):
    """The OCR stage's result for one video (USV Stage III). Per-frame text boxes live here as JSON,
    one row per video rather than one per box: a 55-second clip would otherwise add ~100 rows."""

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="subtitle")
    text = models.TextField(blank=True, help_text="Video-level subtitle: cue texts in time order.")
    reason = models.TextField(blank=True, help_text="Why the text is empty, when it is.")
    languages = models.JSONField(default=list)
    watermarks = models.JSONField(default=list, blank=True, help_text="Texts kept out as watermarks.")
    frames = models.JSONField(
        default=list,
        blank=True,
        help_text="Per sampled frame: index, timestamp, status (ocr, reused, flat, unreadable) and "
        "boxes [x0, y0, x1, y1 (fractions of the frame), text, confidence, watermark].",
    )
    frames_read = models.PositiveIntegerField(default=0, help_text="Frames EasyOCR looked at.")
    frames_reused = models.PositiveIntegerField(default=0, help_text="Frames whose text had not changed.")
    frames_skipped = models.PositiveIntegerField(default=0, help_text="Flat (no edges) or unreadable frames.")
    seconds = models.FloatField(default=0, help_text="Time the OCR took.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.video_id}: {self.text[:50] or self.reason}"


class SubtitleCue(models.Model):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="subtitle_cues")
    index = models.PositiveIntegerField(help_text="1, 2, ... in time order.")
    start = models.FloatField(help_text="Seconds.")
    end = models.FloatField(help_text="Seconds.")
    text = models.TextField()

    class Meta:
        ordering = ["video_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "index"], name="subtitle_cue_unique_index_per_video"),
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(end__gt=F("start")), name="subtitle_cue_times"
            ),
            models.CheckConstraint(condition=~Q(text=""), name="subtitle_cue_text_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}#{self.index} {self.start:.2f}-{self.end:.2f}"
