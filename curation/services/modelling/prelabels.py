"""Pre-labels (issue 16): the model's guess for every video, and its bulk acceptance as verdicts.

A video's pre-label is its VideoScore from the dataset's latest finished ModelRun: the top topic,
the probability that the weak topic is right and `likely_noise` (that probability below one half,
`scoring.LIKELY_NOISE_BELOW`), with the run's model version. Zero-shot scores are no pre-labels.

Staff may accept pre-labels in bulk: each becomes a VideoVerdict of method "model" (noise when the
pre-label says likely noise, else verified), under a new AggregationRun of method "model" that
records who accepted how many, with which model and filter. Model verdicts are kept apart: a
video's human verdicts (usv, mv, ds) are never read or written here, and "the latest aggregation"
(curation.selectors_labels.aggregation_run_latest) skips model runs, so model verdicts never
decide a split's noise, the verdict counts, an export's verdicts or the human noise estimate.
Crowdworkers never see pre-labels (the annotator's task payload leaves them out).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from curation.errors import CurationError
from curation.models import (
    AggregationMethod,
    AggregationRun,
    Dataset,
    ModelRun,
    Topic,
    VerdictLabel,
    Video,
    VideoScore,
    VideoVerdict,
)

MODEL = AggregationMethod.MODEL
BATCH = 2000
LISTED = 5  # ids named in an error message


class PrelabelError(CurationError):
    """Pre-labels cannot be read or accepted as asked; the message says why and which."""


@dataclass
class PrelabelAcceptance:
    dataset: str
    model_version: str
    run_id: int | None  # the AggregationRun of method "model"; None when nothing was accepted
    accepted: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    replaced: int = 0  # earlier model verdicts of these videos, overwritten
    without_prelabel: int = 0  # videos asked for by id that have no pre-label from this model

    def __str__(self) -> str:
        counts = ", ".join(f"{label} {n}" for label, n in self.verdicts.items()) or "none"
        text = (
            f"{self.accepted} pre-label(s) of {self.model_version} accepted as model verdicts of dataset "
            f"{self.dataset} ({counts})"
        )
        if self.replaced:
            text += f"; {self.replaced} earlier model verdict(s) replaced"
        if self.without_prelabel:
            text += f"; {self.without_prelabel} video(s) have no pre-label from this model (not scored)"
        return text


def prelabel_run(dataset: Dataset) -> ModelRun | None:
    """The run whose scores are the dataset's pre-labels: its latest finished ModelRun."""
    from curation.services.modelling.scoring import model_run_latest

    return model_run_latest(dataset)


def prelabel_runs() -> dict[int, ModelRun]:
    """Dataset id → the run whose scores are its pre-labels, for every dataset that has one (one
    query per dataset: the staff lists span a handful of datasets)."""
    from curation.services.modelling.scoring import model_run_latest

    runs = {dataset.id: model_run_latest(dataset) for dataset in Dataset.objects.only("id")}
    return {dataset_id: run for dataset_id, run in runs.items() if run is not None}


def _topic(dataset: Dataset, name: str) -> Topic:
    topic = Topic.objects.filter(dataset=dataset, name=name).first()
    if topic is None:
        raise PrelabelError(f"dataset {dataset.slug} has no topic {name!r}")
    return topic


def prelabel_list(
    *,
    dataset: Dataset,
    likely_noise: bool | None = None,
    topic: str | None = None,
    run: ModelRun | None = None,
) -> QuerySet[VideoScore]:
    """The dataset's pre-labels in video order, with their videos and weak topics, each annotated
    `accepted` (a model verdict exists). `topic` is a weak topic's name (the topic a video was
    collected for, the one the pre-label judges); `likely_noise` None: every pre-label, a video
    without a weak topic (no probability, `likely_noise` NULL) included."""
    run = run or prelabel_run(dataset)
    if run is None:
        return VideoScore.objects.none()
    if run.dataset_id != dataset.id:
        raise PrelabelError(f"model run {run.version} is not a run of dataset {dataset.slug}")
    scores = VideoScore.objects.filter(model_run=run, video__dataset=dataset)
    if topic:
        scores = scores.filter(video__weak_topic=_topic(dataset, topic))
    if likely_noise is not None:
        scores = scores.filter(likely_noise=likely_noise)
    accepted = VideoVerdict.objects.filter(video_id=OuterRef("video_id"), method=MODEL)
    return (
        scores.select_related("video__weak_topic")
        .defer("topic_scores", "thumbnail_scores", "branches", "video__signature")
        .annotate(accepted=Exists(accepted))
        .order_by("video_id")
    )


def prelabel_counts(*, dataset: Dataset) -> dict | None:
    """What a dataset page shows of its pre-labels: the model version and how many videos are
    likely noise, likely right, without a judgement (no weak topic) and already accepted; None
    without a trained model."""
    run = prelabel_run(dataset)
    if run is None:
        return None
    scores = VideoScore.objects.filter(model_run=run, video__dataset=dataset)
    flags = dict(scores.values_list("likely_noise").annotate(n=Count("id")).values_list("likely_noise", "n"))
    return {
        "model_version": run.version,
        "run": run.id,
        "likely_noise": flags.get(True, 0),
        "likely_right": flags.get(False, 0),
        "none": flags.get(None, 0),
        "accepted": VideoVerdict.objects.filter(dataset=dataset, method=MODEL).count(),
    }


def _label(likely_noise: bool) -> str:
    return VerdictLabel.NOISE if likely_noise else VerdictLabel.VERIFIED


def _unknown_ids(dataset: Dataset, video_ids: list[int]) -> list[int]:
    known = set(Video.objects.filter(dataset=dataset, id__in=video_ids).values_list("id", flat=True))
    return [v for v in video_ids if v not in known]


def prelabels_accept(
    *,
    dataset: Dataset,
    video_ids: Iterable[int] | None = None,
    likely_noise: bool | None = None,
    topic: str | None = None,
    user=None,
) -> PrelabelAcceptance:
    """Accept the dataset's pre-labels (those of `video_ids`, or those the filters choose, or both:
    the videos asked for that match the filters) as verdicts of method "model".

    Label: noise when the pre-label says likely noise, else verified; confidence: the model's
    probability of that label (p for verified, 1 − p for noise); no answers. A video's earlier model
    verdict is replaced; its human verdicts are never touched. A pre-label without a probability
    (the video has no weak topic) is not a judgement and is never accepted. Video ids that are not
    the dataset's are refused, naming them, and nothing is written."""
    run = prelabel_run(dataset)
    if run is None:
        raise PrelabelError(
            f"dataset {dataset.slug} has no trained model, so no pre-labels to accept: train one "
            f"(train_baseline) and score the dataset"
        )
    ids: list[int] | None = None
    if video_ids is not None:
        try:
            ids = sorted({int(v) for v in video_ids})
        except (TypeError, ValueError):
            raise PrelabelError(f"video ids must be integers, not {list(video_ids)[:LISTED]!r}") from None
        unknown = _unknown_ids(dataset, ids)
        if unknown:
            raise PrelabelError(
                f"{len(unknown)} video id(s) are not videos of dataset {dataset.slug}: "
                f"{', '.join(map(str, unknown[:LISTED]))}"
            )
    scores = prelabel_list(dataset=dataset, likely_noise=likely_noise, topic=topic, run=run)
    scores = scores.filter(likely_noise__isnull=False, weak_topic_probability__isnull=False)
    if ids is not None:
        scores = scores.filter(video_id__in=ids)
    summary = PrelabelAcceptance(dataset=dataset.slug, model_version=run.version, run_id=None)
    with transaction.atomic():
        # One writer of a dataset's verdicts at a time, as the human aggregation does.
        Dataset.objects.select_for_update().filter(id=dataset.id).first()
        chosen = list(scores.values_list("video_id", "weak_topic_probability", "likely_noise"))
        if ids is not None:
            summary.without_prelabel = len(ids) - len(chosen)
        if not chosen:
            return summary
        counts = {VerdictLabel.VERIFIED.value: 0, VerdictLabel.NOISE.value: 0}
        for _, _, noisy in chosen:
            counts[_label(noisy)] += 1
        aggregation = AggregationRun.objects.create(
            dataset=dataset,
            method=MODEL,
            requested=MODEL,
            items=len(chosen),
            classes=[VerdictLabel.VERIFIED, VerdictLabel.NOISE],
            # The one "worker" behind these verdicts is the model; who accepted them, and which.
            worker_quality={
                "model": {
                    "version": run.version,
                    "model_run": run.id,
                    "accepted_by": getattr(user, "username", None),
                    "accepted_by_id": getattr(user, "pk", None),
                    "filter": {"likely_noise": likely_noise, "topic": topic, "video_ids": len(ids or [])},
                    "verdicts": counts,
                }
            },
        )
        summary.replaced = VideoVerdict.objects.filter(
            dataset=dataset, method=MODEL, video_id__in=scores.values("video_id")
        ).count()
        rows = (
            VideoVerdict(
                video_id=video_id,
                dataset=dataset,
                run=aggregation,
                method=MODEL,
                label=_label(noisy),
                confidence=(1.0 - p) if noisy else p,
                answers_used=0,
                answers={},
            )
            for video_id, p, noisy in chosen
        )
        created = VideoVerdict.objects.bulk_create(
            rows,
            batch_size=BATCH,
            update_conflicts=True,
            unique_fields=["video", "method"],
            update_fields=["run", "label", "confidence", "answers_used", "answers", "disputed", "from_gold",
                           "updated_at"],
        )  # fmt: skip
    summary.run_id = aggregation.id
    summary.accepted = len(created)
    summary.verdicts = counts
    return summary
