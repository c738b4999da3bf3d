"""Scores: every video gets one VideoScore per model version.

- **zero-shot** (before any human label; USV's retrieval idea): cosine similarity between the
  video's text (title and subtitle) and each topic's name, synonyms and macro topic, averaged with
  the cosine to each topic's centroid of human-verified frames where the topic has verified
  videos. The softmax over topics (temperature ZERO_SHOT_TEMPERATURE) is reported as the weak
  topic's probability: a ranking, not a calibrated probability.
- **a ModelRun** (the latest finished one unless told): the fused per-branch heads.

Thumbnail scores (ASBTv-like quality and representativeness, ml.thumbnails) of each candidate
frame are stored with every version, with the pick.

A ModelRun's score is also the video's **pre-label** (issue 16): `likely_noise` is True when the
weak topic's probability is below LIKELY_NOISE_BELOW (the fused heads are calibrated on val, so
below one half the model thinks the weak topic more likely wrong than right). Zero-shot rows get
None: their softmax is a ranking, not a probability, so it may not call a video noise.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from curation.errors import ModelNotFound
from curation.models import Dataset, Frame, ModelRun, Video, VideoScore
from curation.services.modelling.features import models_enabled_or_skip
from curation.services.modelling.tables import Table, feature_table, topic_vectors, verified_topics

logger = logging.getLogger("microcurate.scores")
ZERO_SHOT_TEMPERATURE = 0.05
TOP_K = 5
LIKELY_NOISE_BELOW = 0.5
BATCH = 256


@dataclass
class ScoreSummary:
    scored: int
    versions: list[str]


def _softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax over the finite scores; a row with none stays NaN (nothing to score)."""
    finite = np.isfinite(scores)
    z = np.where(finite, scores, -np.inf) / temperature
    top = np.max(np.where(finite, z, -np.inf), axis=1, keepdims=True)
    e = np.where(finite, np.exp(z - np.where(np.isfinite(top), top, 0)), 0.0)
    total = np.sum(e, axis=1, keepdims=True)
    return np.divide(e, total, out=np.full_like(e, np.nan), where=total > 0)


# --- zero-shot -------------------------------------------------------------------------------

_centroid_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_centroid_lock = threading.Lock()


def _verified_visual(dataset: Dataset, topic_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Visual vectors and topic columns of the videos whose weak topic humans verified. Cached
    per process until a new aggregation changes the verdicts."""
    from curation.selectors_labels import aggregation_run_latest

    run = aggregation_run_latest(dataset=dataset)
    key = (dataset.id, run.id if run else None, tuple(topic_ids))
    with _centroid_lock:
        cached = _centroid_cache.get(key)
        if cached is not None:
            return cached
    verified = [v for v, yes in verified_topics(dataset, None).items() if yes]
    column = {topic_id: i for i, topic_id in enumerate(topic_ids)}
    weak = dict(Video.objects.filter(id__in=verified).values_list("id", "weak_topic_id"))
    ids = [v for v in verified if weak.get(v) in column]
    table = feature_table(ids)
    keep = table.present["visual"]
    vectors = table.branches["visual"][keep]
    labels = np.array([column[weak[v]] for v, k in zip(ids, keep, strict=True) if k], dtype=np.int64)
    with _centroid_lock:
        _centroid_cache[key] = (vectors, labels)
    return vectors, labels


def zero_shot_version() -> str:
    from ml.features.text import text_encoder

    return f"zero-shot/{text_encoder().version}"


def zero_shot_scores(dataset: Dataset, table: Table) -> tuple[list[int], list[str], np.ndarray, np.ndarray]:
    """(topic ids, names, (n, C) similarities, the text part alone); NaN rows for videos with
    neither text nor frames (the text part: without text). A ModelRun's first stage was trained on
    the text part, so it is scored with it."""
    from ml.zeroshot import centroid_zero_shot, text_zero_shot

    topic_ids, names, topics = topic_vectors(dataset)
    parts = [text_zero_shot(table.text_query, topics)]
    vectors, labels = _verified_visual(dataset, topic_ids)
    if len(labels):
        visual = centroid_zero_shot(table.branches["visual"], vectors, labels, len(topic_ids))
        visual[~table.present["visual"]] = np.nan
        parts.append(visual)
    stacked = np.stack(parts)
    counts = np.sum(np.isfinite(stacked), axis=0)
    sums = np.nansum(stacked, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return topic_ids, names, similarity.astype(np.float32), parts[0]


# --- thumbnails ------------------------------------------------------------------------------


def thumbnail_scores(video_ids: list[int]) -> dict[int, tuple[dict[str, float], int | None]]:
    """Video id → ({candidate frame index: ASBTv-like score}, picked frame id)."""
    import cv2

    from curation.media_store import media_path
    from ml.thumbnails import asbtv_scores, colourfulness, pick

    result: dict[int, tuple[dict[str, float], int | None]] = {}
    frames = Frame.objects.filter(video_id__in=video_ids, cluster__isnull=False).order_by("video_id", "index")
    by_video: dict[int, list[Frame]] = {}
    for frame in frames.only(
        "id", "video_id", "index", "image", "sharpness", "brightness", "descriptor", "cluster", "is_candidate"
    ):
        by_video.setdefault(frame.video_id, []).append(frame)
    for video_id, good in by_video.items():
        candidates = [f for f in good if f.is_candidate]
        if not candidates:
            continue
        sizes: dict[int, int] = {}
        for frame in good:
            sizes[frame.cluster] = sizes.get(frame.cluster, 0) + 1
        colour = []
        for frame in candidates:
            image = cv2.imread(str(media_path(frame.image)), cv2.IMREAD_COLOR)
            colour.append(0.0 if image is None else colourfulness(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
        scores = asbtv_scores(
            sharpness=np.array([f.sharpness for f in candidates]),
            brightness=np.array([f.brightness for f in candidates]),
            colourfulness=np.array(colour),
            descriptors=np.stack([np.frombuffer(bytes(f.descriptor), np.float32) for f in candidates]),
            cluster_sizes=np.array([sizes[f.cluster] / len(good) for f in candidates]),
            # Frame.brightness is cleanvision's p99 brightness: a well-exposed frame sits near 0.9.
            brightness_target=0.9,
        )
        result[video_id] = (
            {str(f.index): round(float(s), 4) for f, s in zip(candidates, scores, strict=True)},
            candidates[pick(scores)].id,
        )
    return result


# --- storing ---------------------------------------------------------------------------------


def _rows(
    *, table: Table, weak: dict[int, int | None], topic_ids: list[int], names: list[str], probs: np.ndarray,
    version: str, run: ModelRun | None, branches_used: list[dict], thumbs: dict,
) -> list[VideoScore]:  # fmt: skip
    column = {topic_id: i for i, topic_id in enumerate(topic_ids)}
    rows = []
    for row, video_id in enumerate(table.video_ids):
        scores = probs[row]
        if not np.all(np.isfinite(scores)):
            continue  # nothing to score it with (no text, no frames, no audio)
        top = np.argsort(-scores, kind="stable")[:TOP_K]
        weak_column = column.get(weak.get(video_id))
        probability = None if weak_column is None else min(1.0, max(0.0, float(scores[weak_column])))
        thumb_scores, thumb_frame = thumbs.get(video_id, ({}, None))
        rows.append(
            VideoScore(
                video_id=video_id,
                model_version=version,
                model_run=run,
                topic_scores=[round(float(s), 6) for s in scores],
                top_topics=[
                    {"topic": topic_ids[i], "name": names[i], "score": round(float(scores[i]), 4)}
                    for i in top
                ],
                weak_topic_probability=probability,
                likely_noise=None if run is None or probability is None else probability < LIKELY_NOISE_BELOW,
                branches=branches_used[row],
                thumbnail_scores=thumb_scores,
                thumbnail_frame_id=thumb_frame,
            )
        )
    return rows


def _store(rows: list[VideoScore]) -> None:
    VideoScore.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["video", "model_version"],
        update_fields=["model_run", "topic_scores", "top_topics", "weak_topic_probability", "likely_noise",
                       "branches", "thumbnail_scores", "thumbnail_frame", "scored_at"],
    )  # fmt: skip


def _run_model(run: ModelRun):
    from ml.baseline import BaselineModel

    return BaselineModel.from_state(bytes(run.state))


_models: dict[int, object] = {}


def scores_compute(*, dataset: Dataset, video_ids: list[int], run: ModelRun | None) -> int:
    """Score `video_ids` with zero-shot and, when given, `run`; returns the rows stored."""
    table = feature_table(video_ids)
    weak = dict(Video.objects.filter(id__in=video_ids).values_list("id", "weak_topic_id"))
    thumbs = thumbnail_scores(video_ids)
    topic_ids, names, similarity, text_similarity = zero_shot_scores(dataset, table)
    named = dict(zip(topic_ids, names, strict=True))  # the dataset's topics, for a run's columns
    used = [
        {"used": [b for b in ("text", "visual") if table.present[b][r]], "missing": table.missing[r]}
        for r in range(len(video_ids))
    ]
    rows = _rows(
        table=table, weak=weak, topic_ids=topic_ids, names=names,
        probs=_softmax(similarity, ZERO_SHOT_TEMPERATURE) if len(topic_ids) else similarity,
        version=zero_shot_version(), run=None, branches_used=used, thumbs=thumbs,
    )  # fmt: skip
    if run is not None:
        model = _models.get(run.id) or _models.setdefault(run.id, _run_model(run))
        modalities = tuple(run.settings["modalities"])
        result = model.score(table.feature_table(modalities), zero_shot=text_similarity, first_stage=False)
        fused = np.where(np.asarray(result.uncovered, bool)[:, None], np.nan, result.fused)
        used = [
            {
                "used": [b for b in modalities if table.present[b][r]],
                "missing": {b: why for b, why in table.missing[r].items() if b in modalities},
            }
            for r in range(len(video_ids))
        ]
        rows += _rows(
            table=table, weak=weak, topic_ids=run.topics, probs=fused, version=run.version,
            names=[named.get(t, "") for t in run.topics], run=run, branches_used=used, thumbs=thumbs,
        )  # fmt: skip
    with transaction.atomic():
        _store(rows)
    return len(rows)


def model_run_latest(dataset: Dataset) -> ModelRun | None:
    """The dataset's latest finished ModelRun: the one that scores new videos, and whose scores
    are the pre-labels. Its trained state (megabytes) is read only when scoring asks for it."""
    return (
        ModelRun.objects.filter(dataset=dataset, status=ModelRun.Status.DONE)
        .defer("state")
        .order_by("-finished_at", "-id")
        .first()
    )


def video_score(video: Video) -> dict:
    """The score stage's run function: zero-shot and the dataset's latest ModelRun."""
    models_enabled_or_skip()
    from django.conf import settings

    from ml.weights import torch_threads

    torch_threads(settings.MICROCURATE_TORCH_THREADS)
    scores_compute(dataset=video.dataset, video_ids=[video.id], run=model_run_latest(video.dataset))
    return {}


def dataset_score(
    *, dataset_id: int, run_id: int | None = None, progress: Callable[[int, int], None] | None = None
) -> ScoreSummary:
    """Score every video of the dataset whose features stage finished, in batches."""
    from curation.models import StageStatus
    from curation.services.labels.noise_model import noise_estimates_model_refresh

    dataset = Dataset.objects.get(id=dataset_id)
    if run_id is not None:
        run = ModelRun.objects.filter(id=run_id, dataset=dataset).first()
        if run is None or run.status != ModelRun.Status.DONE:
            raise ModelNotFound(f"dataset {dataset.slug} has no finished model run {run_id}")
    else:
        run = model_run_latest(dataset)
    ids = list(
        Video.objects.filter(dataset=dataset, features_status=StageStatus.DONE)
        .order_by("id")
        .values_list("id", flat=True)
    )
    scored = 0
    for start in range(0, len(ids), BATCH):
        scored += scores_compute(dataset=dataset, video_ids=ids[start : start + BATCH], run=run)
        if progress:
            progress(min(start + BATCH, len(ids)), len(ids))
    Video.objects.filter(id__in=ids).update(score_status=StageStatus.DONE)
    noise_estimates_model_refresh(dataset=dataset, run=run)  # new scores: the model's noise estimate
    versions = [zero_shot_version()] + ([run.version] if run else [])
    logger.info("dataset %s: %d scores stored (%s)", dataset.slug, scored, ", ".join(versions))
    return ScoreSummary(scored=scored, versions=versions)


def thumbnail_evaluate(video_ids: list[int], *, seed: int = 0) -> dict:
    """Thumbnail accuracy of the ASBTv-like pick and of Random against the ground truth (the
    candidate nearest the posted thumbnail), as the thumbnail benchmark reports them (Random
    14.09 %, ASBTv 20.92 % there), over the videos with a ground-truth candidate."""
    from curation.models import ThumbnailTruth
    from ml.metrics import thumbnail_accuracy
    from ml.thumbnails import pick, random_scores

    truths = dict(
        ThumbnailTruth.objects.filter(video_id__in=video_ids, frame__is_candidate=True).values_list(
            "video_id", "frame_id"
        )
    )
    scored = thumbnail_scores(list(truths))
    candidates: dict[int, list[int]] = {}
    for video_id, frame_id in (
        Frame.objects.filter(video_id__in=list(truths), is_candidate=True)
        .order_by("video_id", "index")
        .values_list("video_id", "id")
    ):
        candidates.setdefault(video_id, []).append(frame_id)
    ids = [v for v in truths if v in scored]
    truth = np.array([truths[v] for v in ids])
    model = np.array([scored[v][1] for v in ids])
    rng = np.random.default_rng(seed)
    randomly = np.array(
        [candidates[v][pick(random_scores(len(candidates[v]), seed=int(rng.integers(1 << 31))))] for v in ids]
    )
    return {
        "asbtv": thumbnail_accuracy(model, truth).as_dict(),
        "random": thumbnail_accuracy(randomly, truth).as_dict(),
        "random_expected": round(float(np.mean([1 / len(candidates[v]) for v in ids])), 4) if ids else None,
        "candidates_mean": round(float(np.mean([len(candidates[v]) for v in ids])), 2) if ids else None,
    }
