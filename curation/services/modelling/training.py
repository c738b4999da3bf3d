"""Training the baseline models on a frozen split: one ModelRun per training.

Labels are the weak topics of the split's members. In `train`, videos human verification
confirmed weigh `verified_weight` (3 by default) and verified noise (the split's `is_noise`
members) is left out; `val` and `test` hold no known noise (the split keeps it out). The run is
stored with everything needed to score (ml.baseline's state), its metrics per branch and fused,
per-topic AP with the number of training examples, and the training time.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from curation.errors import CurationError, TrainingRefused
from curation.models import Dataset, ModelRun, SplitMember, Topic
from curation.services.modelling.scoring import thumbnail_evaluate
from curation.services.modelling.tables import BRANCHES, feature_table, topic_vectors, verified_topics
from curation.services.splits import split_get

logger = logging.getLogger("microcurate.training")
FUSIONS = ("usv", "fitted")


def _modalities(raw) -> list[str]:
    names = [m.strip() for m in (raw.split(",") if isinstance(raw, str) else raw) if m and m.strip()]
    unknown = [m for m in names if m not in BRANCHES]
    if unknown or not names:
        raise TrainingRefused(
            f"unknown modalities {', '.join(unknown) or '(none given)'}; use a comma-separated subset of "
            f"{', '.join(BRANCHES)}"
        )
    return list(dict.fromkeys(names))


def model_runs_lost_fail(*, dataset: Dataset) -> None:
    """A run RUNNING past the task's hard time limit lost its worker: fail it, so it does not hold
    the dataset's one active training for ever."""
    limit = settings.MICROCURATE_TRAIN_TIME_LIMIT + settings.MICROCURATE_STAGE_KILL_GRACE
    ModelRun.objects.filter(
        dataset=dataset,
        status=ModelRun.Status.RUNNING,
        started_at__lt=timezone.now() - timedelta(seconds=limit),
    ).update(
        status=ModelRun.Status.FAILED,
        error=f"lost: still running after the {limit} s time limit",
        finished_at=timezone.now(),
    )


def model_run_create(
    *, dataset: Dataset, split_name: str, modalities="visual,audio,text", fusion: str = "usv", user=None
) -> ModelRun:
    """A queued ModelRun; refuses an unfrozen split, unknown modalities or fusion, and a second
    training of the dataset while one is queued or running."""
    if fusion not in FUSIONS:
        raise TrainingRefused(f"unknown fusion {fusion!r}; use usv (MMF-Net weights 1/0.5/0.5) or fitted")
    names = _modalities(modalities)
    split = split_get(dataset=dataset, name=split_name)
    if not split.is_frozen:
        raise TrainingRefused(
            f"split {split.name} of {dataset.slug} is not frozen: training on an unfrozen split is refused "
            f"(freeze it first: manage.py freeze_split --dataset {dataset.slug} --name {split.name})"
        )
    model_runs_lost_fail(dataset=dataset)
    number = ModelRun.objects.filter(dataset=dataset).count() + 1
    try:
        with transaction.atomic():
            return ModelRun.objects.create(
                dataset=dataset,
                split=split,
                version=f"{dataset.slug}/{split.name}/run-{number}-{timezone.now():%Y%m%d%H%M%S}",
                settings={"modalities": names, "fusion": fusion, "seed": 0, "verified_weight": 3.0},
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
    except IntegrityError:
        active = ModelRun.objects.filter(dataset=dataset, status__in=["queued", "running"]).first()
        raise TrainingRefused(
            f"a training of {dataset.slug} is already {active.status if active else 'active'}"
            + (f": {active.version}" if active else "")
        ) from None


def _progress_saver(run_id: int, echo: Callable[[str, float], None] | None) -> Callable[[str, float], None]:
    last = [0.0]

    def progress(stage: str, share: float) -> None:
        if echo:
            echo(stage, share)
        now = time.monotonic()
        if now - last[0] >= 0.5 or share >= 1:
            last[0] = now
            ModelRun.objects.filter(id=run_id).update(progress=min(1.0, max(0.0, share)), stage=stage[:100])

    return progress


def _inputs(run: ModelRun):
    members = list(
        SplitMember.objects.filter(split=run.split)
        .exclude(subset="")
        .order_by("video_id")
        .values_list("video_id", "subset", "is_noise", "video__weak_topic_id")
    )
    topic_ids = list(Topic.objects.filter(dataset=run.dataset).order_by("id").values_list("id", flat=True))
    column = {topic_id: i for i, topic_id in enumerate(topic_ids)}
    video_ids = [m[0] for m in members]
    verified = verified_topics(run.dataset, run.split.verdict_method or None, video_ids)
    labels = np.array([column.get(m[3], -1) for m in members], dtype=np.int64)
    subsets = np.array([m[1] for m in members], dtype=object)
    weights = np.ones(len(members), dtype=np.float32)
    for row, (video_id, _subset, is_noise, _topic) in enumerate(members):
        if is_noise or verified.get(video_id) is False:
            weights[row] = 0.0  # known noise: left out of training
        elif verified.get(video_id):
            weights[row] = run.settings.get("verified_weight", 3.0)
    return video_ids, topic_ids, labels, subsets, weights


def model_run_train(
    *, run_id: int, progress: Callable[[str, float], None] | None = None, score: bool = True
) -> ModelRun:
    """Train a queued run (claimed with a conditional UPDATE: a second delivery does nothing);
    with `score`, every video is then scored with it on the ml queue."""
    claimed = ModelRun.objects.filter(id=run_id, status=ModelRun.Status.QUEUED).update(
        status=ModelRun.Status.RUNNING, started_at=timezone.now(), progress=0, stage="loading features"
    )
    run = ModelRun.objects.select_related("dataset", "split").get(id=run_id)
    if not claimed:
        return run
    from ml.baseline import TrainSettings, train_baseline
    from ml.weights import torch_threads
    from ml.zeroshot import text_zero_shot

    torch_threads(settings.MICROCURATE_TORCH_THREADS)
    try:
        video_ids, topic_ids, labels, subsets, weights = _inputs(run)
        table = feature_table(video_ids)
        _, _, topics = topic_vectors(run.dataset)
        zero_shot = text_zero_shot(table.text_query, topics)
        modalities = tuple(run.settings["modalities"])
        options = TrainSettings(
            modalities=modalities, fusion=run.settings["fusion"], seed=run.settings.get("seed", 0)
        )
        result = train_baseline(
            table=table.feature_table(modalities),
            labels=labels,
            subsets=subsets,
            sample_weight=weights,
            n_classes=len(topic_ids),
            zero_shot=zero_shot,
            settings=options,
            progress=_progress_saver(run.id, progress),
        )
    except Exception as exc:
        ModelRun.objects.filter(id=run.id).update(
            status=ModelRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        logger.exception("model run %s failed", run.version)
        if isinstance(exc, CurationError | ValueError):
            run.refresh_from_db()
            return run
        raise
    metrics = dict(result.metrics)
    evaluated = [v for v, subset in zip(video_ids, subsets, strict=True) if subset in ("val", "test")]
    metrics["thumbnails"] = thumbnail_evaluate(evaluated, seed=run.settings.get("seed", 0))
    names = dict(Topic.objects.filter(id__in=topic_ids).values_list("id", "name"))
    for row in metrics.get("per_topic", []):
        row["topic"] = topic_ids[row["index"]]
        row["name"] = names[row["topic"]]
    ModelRun.objects.filter(id=run.id).update(
        status=ModelRun.Status.DONE,
        state=result.state,
        metrics=metrics,
        topics=topic_ids,
        train_seconds=round(result.seconds, 3),
        progress=1.0,
        stage="done",
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    logger.info("model run %s trained in %.1f s", run.version, result.seconds)
    if score:
        scores_enqueue(run=run)
    return run


def model_run_enqueue(*, run: ModelRun) -> None:
    from curation import tasks

    tasks.model_run_train_task.delay_on_commit(run.id)


def scores_enqueue(*, run: ModelRun) -> None:
    """After a new ModelRun: score every video with it, on the ml queue."""
    from curation import tasks

    tasks.dataset_score_task.delay_on_commit(run.dataset_id, run.id)
