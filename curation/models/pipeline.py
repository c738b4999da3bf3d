"""Who holds a pipeline stage of a video right now, so a dead holder can be told from a live one."""

from django.db import models

from curation.models.media import Video


class StageClaim(models.Model):
    """One row per stage in flight (status RUNNING), or handed back to the queue by the sweeper.

    A row lives only while a stage is in flight, so this table stays small and the sweeper reads it
    whole instead of scanning the (unindexed) status columns of every video. `task_id` is the
    Celery message that holds the claim: that message delivered again means its first run died.
    `attempts` counts runs of the stage, so a video that kills its worker every time fails for
    good instead of being redelivered for ever.
    """

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="stage_claims", db_index=False)
    stage = models.CharField(max_length=10)
    task_id = models.CharField(max_length=255, blank=True)
    # Set from the database clock (Now()), never a worker's: staleness is decided across machines.
    claimed_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["video", "stage"], name="stage_claim_unique_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.video_id}:{self.stage} (attempt {self.attempts})"
