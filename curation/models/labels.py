"""What people said about the videos and what it adds up to: answers imported from elsewhere,
aggregation runs with their per-video verdicts, and noise estimates with confidence intervals.

The crowd answers collected in this app live in the annotator app, which hands them to the
curation services as plain rows (dependencies point annotator → curation); answers from an
earlier round or another tool are stored here as `ExternalAnswer`.
"""

from django.db import models
from django.db.models import Q

from curation.models.media import EXTERNAL_ID_MAX_LENGTH, Dataset, Video
from ml import vocabulary as verdicts


class AggregationMethod(models.TextChoices):
    USV = "usv", "USV's rule (two No ⇒ noise)"
    MV = "mv", "Majority vote"
    DS = "ds", "Dawid–Skene (gold-aware)"
    # Model pre-labels a curator accepted in bulk: kept apart from human verdicts, never the
    # latest aggregation (splits, counts) and never in the human noise estimate.
    MODEL = "model", "Model pre-labels (accepted by staff)"


class VerdictLabel(models.TextChoices):
    """A video's topic verdict (ml.verdicts.TOPIC_VERDICTS, the one vocabulary)."""

    VERIFIED = verdicts.VERIFIED, "Topic verified"
    NOISE = verdicts.NOISE, "Label noise"
    DISAGREEMENT = verdicts.DISAGREEMENT, "Disagreement"
    UNSURE = verdicts.UNSURE, "Can't tell"
    PENDING = verdicts.PENDING, "Pending (fewer answers than the overlap)"


class ExternalAnswer(models.Model):
    """A topic-verification answer from elsewhere, imported with `import_answers`."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="external_answers")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="external_answers")
    worker = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH, help_text="The worker id in the source.")
    label = models.CharField(max_length=10, help_text="yes, no or unsure.")
    gold = models.CharField(max_length=10, blank=True, help_text="The known answer, when the source had one.")
    source = models.CharField(max_length=255, help_text="The file it came from.")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["video_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["video", "worker"], name="external_answer_once_per_worker"),
            models.CheckConstraint(
                condition=Q(label__in=["yes", "no", "unsure"]), name="external_answer_label_choice"
            ),
            models.CheckConstraint(
                condition=Q(gold__in=["", "yes", "no", "unsure"]), name="external_answer_gold_choice"
            ),
            models.CheckConstraint(condition=~Q(worker=""), name="external_answer_worker_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id}: {self.worker} said {self.label}"


class AggregationRun(models.Model):
    """One aggregation of a dataset's answers into verdicts, with what it learnt about the workers."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="aggregation_runs")
    method = models.CharField(max_length=5, choices=AggregationMethod)
    requested = models.CharField(max_length=5, default="auto", help_text="The method asked for (auto picks).")
    items = models.PositiveIntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    workers = models.PositiveIntegerField(default=0)
    excluded_workers = models.PositiveIntegerField(
        default=0, help_text="Workers whose answers staff excluded."
    )
    worker_quality = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per worker: answers, confusion matrix [truth][answer] over classes, gold accuracy.",
    )
    classes = models.JSONField(default=list)
    agreement = models.JSONField(
        default=dict, blank=True, help_text="Cohen's kappa and Krippendorff's alpha, overall and per topic."
    )
    iterations = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(default=True)
    seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dataset_id}: {self.method} run {self.id}"


class VideoVerdict(models.Model):
    """A video's verdict under one method; the latest run of that method overwrites it."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="verdicts")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(AggregationRun, on_delete=models.CASCADE, related_name="verdicts", db_index=False)
    method = models.CharField(max_length=5, choices=AggregationMethod)
    label = models.CharField(max_length=15, choices=VerdictLabel)
    confidence = models.FloatField()
    answers_used = models.PositiveSmallIntegerField()
    answers = models.JSONField(default=dict, help_text="Answer counts by label, e.g. {'yes': 1, 'no': 1}.")
    disputed = models.BooleanField(default=False)
    from_gold = models.BooleanField(default=False, help_text="The video is a gold item: its known answer.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["video_id", "method"]
        constraints = [
            models.UniqueConstraint(fields=["video", "method"], name="video_verdict_one_per_method"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="video_verdict_confidence_range"
            ),
        ]
        indexes = [models.Index(fields=["dataset", "method", "label"], name="video_verdict_dataset_label")]

    def __str__(self) -> str:
        return f"{self.video_id}: {self.label} ({self.method}, {self.confidence:.2f})"

    @property
    def is_noise(self) -> bool:
        return self.label == VerdictLabel.NOISE


class NoiseEstimate(models.Model):
    """A noise rate with its confidence interval for one scope, kept as history.

    `estimator` says where the judgement came from: `human` (verdicts of verified videos) today,
    `model` (baseline model scores) beside it once models exist. `scope` and `key` say what was
    measured: the dataset, one topic, one macro topic, one subset of a split, or the USV
    extrapolation from a random verified sample to the unverified videos (`population`).
    """

    class Estimator(models.TextChoices):
        HUMAN = "human", "Human verdicts"
        MODEL = "model", "Model scores"

    class Scope(models.TextChoices):
        DATASET = "dataset", "Dataset"
        TOPIC = "topic", "Topic"
        MACRO_TOPIC = "macro_topic", "Macro topic"
        SPLIT = "split", "Split subset"
        EXTRAPOLATION = "extrapolation", "Unverified videos (extrapolated)"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="noise_estimates")
    estimator = models.CharField(max_length=10, choices=Estimator, default=Estimator.HUMAN)
    method = models.CharField(max_length=20, help_text="Verdict method (usv/mv/ds) or model name.")
    scope = models.CharField(max_length=15, choices=Scope)
    key = models.CharField(max_length=255, blank=True, help_text="Topic, macro topic or split/subset.")
    noisy = models.PositiveIntegerField()
    n = models.PositiveIntegerField()
    rate = models.FloatField()
    low = models.FloatField()
    high = models.FloatField()
    interval = models.CharField(max_length=20, default="wilson")
    confidence = models.FloatField(default=0.95)
    population = models.PositiveIntegerField(
        null=True, blank=True, help_text="Extrapolation: unverified videos the rate is applied to."
    )
    expected_low = models.PositiveIntegerField(null=True, blank=True)
    expected_high = models.PositiveIntegerField(null=True, blank=True)
    run = models.ForeignKey(
        AggregationRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "scope", "key"]
        constraints = [
            models.CheckConstraint(condition=Q(noisy__lte=models.F("n")), name="noise_estimate_noisy_le_n"),
            models.CheckConstraint(
                condition=Q(low__gte=0)
                & Q(low__lte=models.F("rate"))
                & Q(high__gte=models.F("rate"))
                & Q(high__lte=1),
                name="noise_estimate_interval_order",
            ),
        ]
        indexes = [
            models.Index(fields=["dataset", "scope", "key", "-created_at"], name="noise_estimate_history")
        ]

    def __str__(self) -> str:
        where = f"{self.scope} {self.key}".strip()
        return f"{where}: {self.rate:.1%} [{self.low:.1%}, {self.high:.1%}] of {self.n}"
