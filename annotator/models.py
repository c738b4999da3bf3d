"""Annotation tasks, their slots (leases), answers and annotator standing.

A task needs N distinct answers; it owns N `Assignment` rows ("slots"), each leased to one
worker at a time. Leasing locks a slot row with SELECT … FOR UPDATE SKIP LOCKED, so two
workers never hold the same open slot. Gold tasks have no fixed slots: a worker's gold slot
is created when it is served. Constraints live in the database.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from curation.models import Dataset, Topic, VerdictLabel, Video
from ml import vocabulary as verdicts


class TaskKind(models.TextChoices):
    TOPIC = "topic", "Topic verification"
    THUMBNAIL = "thumbnail", "Thumbnail check"


class TopicChoice(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    UNSURE = "unsure", "Can't tell"


class ThumbnailVerdict(models.TextChoices):
    """A thumbnail task's outcome (ml.verdicts.THUMBNAIL_VERDICTS)."""

    MATCHES_TRUTH = verdicts.MATCHES_TRUTH, "Pick matches the ground-truth frame"
    DIFFERS = verdicts.DIFFERS, "Pick differs from the ground-truth frame"
    DISAGREEMENT = verdicts.DISAGREEMENT, "Disagreement"
    PENDING = verdicts.PENDING, "Pending"


# A task's live verdict: a topic task's is a preview of the video's verdict (VerdictLabel, the
# same rule as aggregation's), a thumbnail task's its own outcome.
TASK_VERDICTS = [("Topic", VerdictLabel.choices), ("Thumbnail", ThumbnailVerdict.choices)]


class Task(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="annotation_tasks")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="annotation_tasks")
    kind = models.CharField(max_length=10, choices=TaskKind)
    topic = models.ForeignKey(Topic, on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    needed = models.PositiveSmallIntegerField(help_text="Distinct answers this task needs.")
    answered = models.PositiveSmallIntegerField(default=0, help_text="Answers that count.")
    priority = models.FloatField(default=0.0, help_text="Higher first.")
    is_gold = models.BooleanField(default=False)
    # The verification order that chose this task (random: USV's unbiased protocol; likely_noise,
    # uncertain, hard_negatives: model-driven, so human noise rates over them are biased).
    selected_by = models.CharField(max_length=15, default="random")
    gold_answer = models.CharField(max_length=20, blank=True, help_text="yes/no/unsure or a frame id.")
    escalated = models.BooleanField(default=False, help_text="A slot was added after a disagreement.")
    verdict = models.CharField(max_length=15, choices=TASK_VERDICTS, default=verdicts.PENDING, db_index=True)
    truth_frame = models.ForeignKey(
        "curation.Frame",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The stored ground-truth frame, recorded for comparison; never shown as the answer.",
    )
    verdict_frame = models.ForeignKey(
        "curation.Frame", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agreement = models.FloatField(null=True, blank=True, help_text="Share of answers equal to the mode.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "id"]
        constraints = [
            # One task per video and kind, and for topic tasks per topic: MiCRObE's hard negatives
            # ask about a topic the video was not collected for (thumbnail tasks have no topic).
            models.UniqueConstraint(
                fields=["video", "kind", "topic"],
                nulls_distinct=False,
                name="task_unique_kind_topic_per_video",
            ),
            models.CheckConstraint(condition=Q(needed__lte=21), name="task_needed_range"),
            models.CheckConstraint(
                condition=~Q(kind="topic") | Q(topic__isnull=False), name="task_topic_kind_has_topic"
            ),
            models.CheckConstraint(
                condition=Q(is_gold=False) | ~Q(gold_answer=""), name="task_gold_has_answer"
            ),
        ]
        indexes = [models.Index(fields=["dataset", "kind", "verdict"])]

    def __str__(self) -> str:
        return f"{self.kind} task {self.id} ({self.video_id})"


class Assignment(models.Model):
    """A slot of a task: open, leased (worker + unexpired lease) or answered."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    # Denormalised from the task so the lease query reads one table and one index.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=TaskKind)
    priority = models.FloatField(default=0.0)
    is_gold = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State, default=State.OPEN)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments"
    )
    leased_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One worker never holds two slots of one task (and so never answers it twice).
            models.UniqueConstraint(
                fields=["task", "worker"], condition=Q(worker__isnull=False), name="assignment_one_per_worker"
            ),
            models.CheckConstraint(
                condition=Q(state="open") | Q(worker__isnull=False), name="assignment_answered_has_worker"
            ),
            models.CheckConstraint(
                condition=Q(worker__isnull=True) | Q(lease_expires_at__isnull=False),
                name="assignment_lease_has_expiry",
            ),
        ]
        indexes = [
            # The lease query walks open slots in priority order, within a dataset or across all;
            # the kind (often not asked for) is a filter on the way, never a sort breaker.
            models.Index(
                fields=["dataset", "is_gold", "-priority", "id"],
                condition=Q(state="open"),
                name="assignment_open_in_dataset",
            ),
            models.Index(
                fields=["is_gold", "-priority", "id"],
                condition=Q(state="open"),
                name="assignment_open_anywhere",
            ),
            models.Index(fields=["worker", "state"], name="assignment_worker_state"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.id} of task {self.task_id}"


class Answer(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="answers")
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="answer")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="answers")
    choice = models.CharField(max_length=10, choices=TopicChoice, blank=True)
    frame = models.ForeignKey(
        "curation.Frame", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_gold = models.BooleanField(default=False)
    correct = models.BooleanField(null=True, blank=True, help_text="Gold tasks only.")
    seconds = models.FloatField(null=True, blank=True, help_text="Time on the task, as the client measured.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "worker"], name="answer_once_per_worker"),
            models.CheckConstraint(
                condition=~Q(choice="") | Q(frame__isnull=False), name="answer_has_choice_or_frame"
            ),
            models.CheckConstraint(
                condition=Q(seconds__isnull=True) | Q(seconds__gte=0), name="answer_seconds_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["worker", "created_at"])]

    def __str__(self) -> str:
        return f"answer {self.id} to task {self.task_id}"


class AnnotatorProfile(models.Model):
    """A crowdworker's standing. Staff pause workers and exclude their answers from verdicts."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator")
    is_paused = models.BooleanField(default=False)
    answers_excluded = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"annotator {self.user_id}"
