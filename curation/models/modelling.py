"""What the baseline models compute: per-video feature vectors, training runs and scores.

Vectors are PostgreSQL `real[]` columns, one row per (video, kind): the same form on every
server. Where the server has pgvector, migration 0011 adds one HNSW index per kind over the cast
`vector::vector(dim)`, so nearest-neighbour search can use it without a second copy.
"""

from django.conf import settings as django_settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from curation.models.media import Dataset, Frame, Video
from curation.models.releases import Split


class RealField(models.FloatField):
    """4-byte floats: embeddings need no more, and they halve the table."""

    def db_type(self, connection) -> str:
        return "real"


class FeatureKind(models.TextChoices):
    AUDIO = "audio", "Audio (log-mel statistics)"
    TITLE = "title", "Title (sentence embedding)"
    SUBTITLE = "subtitle", "Subtitle (sentence embedding)"
    VISUAL = "visual", "Frames (EfficientNet-Lite0, TSN-pooled)"


# Dimensions of each kind (ml.features' AUDIO_DIM, TEXT_DIM, VISUAL_DIM; a test keeps them equal):
# the stored vectors are checked against them, and migration 0012 indexes them.
FEATURE_DIMS = {"audio": 164, "title": 384, "subtitle": 384, "visual": 1280}


class VideoFeature(models.Model):
    """One feature vector of a video, or the reason it has none (no audio stream, no good frames).

    `input_key` fingerprints what it was computed from (file hash, text, frame files) and
    `extractor` the recipe and weights: a stage run again recomputes only when either changed.
    """

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="features", db_index=False)
    kind = models.CharField(max_length=10, choices=FeatureKind)
    vector = ArrayField(RealField(), null=True, blank=True)
    extractor = models.CharField(max_length=100, help_text="Recipe and weights, e.g. efficientnet-lite0@…")
    input_key = models.CharField(max_length=64, help_text="Fingerprint of the input.")
    reason = models.TextField(blank=True, help_text="Why there is no vector, when there is none.")
    details = models.JSONField(default=dict, blank=True, help_text="E.g. clips, frames used.")
    seconds = models.FloatField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["video_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["video", "kind"], name="video_feature_unique_kind"),
            models.CheckConstraint(
                condition=Q(vector__isnull=False) | ~Q(reason=""), name="video_feature_vector_or_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.kind}"


class ModelRun(models.Model):
    """One training of the baseline models on a frozen split, with everything needed to score."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="model_runs")
    split = models.ForeignKey(Split, on_delete=models.PROTECT, related_name="model_runs")
    version = models.CharField(max_length=100, unique=True, help_text="E.g. usv-demo/v1/run-3.")
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    settings = models.JSONField(default=dict, help_text="Modalities, fusion and training settings.")
    topics = models.JSONField(default=list, help_text="Topic ids in the order of the score columns.")
    metrics = models.JSONField(default=dict, blank=True)
    state = models.BinaryField(null=True, blank=True, editable=False, help_text="The trained models.")
    progress = models.FloatField(default=0, help_text="0-1 while training.")
    stage = models.CharField(max_length=100, blank=True, help_text="What training is doing now.")
    train_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset"],
                condition=Q(status__in=["queued", "running"]),
                name="model_run_one_active_per_dataset",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="model_run_progress_range"
            ),
        ]

    def __str__(self) -> str:
        return self.version


class VideoScore(models.Model):
    """A model's scores for one video: every topic, the top ones, the weak topic's probability
    and the thumbnail score of each candidate frame."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="scores", db_index=False)
    model_version = models.CharField(max_length=100, help_text="The ModelRun's version, or zero-shot's.")
    model_run = models.ForeignKey(
        ModelRun, on_delete=models.CASCADE, null=True, blank=True, related_name="scores", db_index=False
    )
    topic_scores = ArrayField(RealField(), help_text="One score per topic, in the run's topic order.")
    top_topics = models.JSONField(default=list, help_text="[{topic, name, score}] best first.")
    weak_topic_probability = models.FloatField(null=True, blank=True)
    # The pre-label (issue 16): the model's guess that the weak topic is wrong.
    likely_noise = models.BooleanField(null=True, blank=True)
    branches = models.JSONField(default=dict, help_text="Branches used and why others were missing.")
    thumbnail_scores = models.JSONField(default=dict, blank=True, help_text="Candidate frame index → score.")
    thumbnail_frame = models.ForeignKey(
        Frame, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["video_id", "model_version"]
        constraints = [
            models.UniqueConstraint(fields=["video", "model_version"], name="video_score_unique_version"),
            models.CheckConstraint(
                condition=Q(weak_topic_probability__isnull=True)
                | (Q(weak_topic_probability__gte=0) & Q(weak_topic_probability__lte=1)),
                name="video_score_probability_range",
            ),
        ]
        indexes = [models.Index(fields=["model_run"], name="video_score_run_idx")]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.model_version}"
