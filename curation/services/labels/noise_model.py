"""The model's noise estimate for the videos nobody verified, beside the human one (issue 16).

The latest finished ModelRun gives every scored video its weak topic's probability; the latest
human aggregation (usv, mv or ds: never accepted model pre-labels) gives the calibration set,
the videos people judged (verified → 1, noise → 0; disagreements, unsure and pending are left
out as the human estimate leaves them out). `ml.calibration` calibrates the probabilities on it
(Platt or isotonic, picked by held-out log-loss) and bootstraps the expected noise of the
unverified videos (no judged or disputed verdict of that method; a video with an accepted
model verdict is still unverified by people).

Rows: estimator "model", method "model-run-<id>" (a run's version, "<slug>/<split>/run-N-<time>",
is longer than the column), interval "bootstrap", `run` the human aggregation it was calibrated
on. `noisy` and `n` are the calibration set's (judged noise, judged), the same on every row; the
rate, interval, `population` and `expected_low/high` are over the unverified videos of the
scope: the dataset (scope extrapolation), each weak topic, and each subset of the latest frozen
split. The rate is what the rule would report on those videos had people verified them (no
correction for the workers' errors), the same quantity as the human estimate.

Caveat: the calibration set should look like the unverified videos to the model. Scores of the
videos the run trained on are in-sample (often more confident); when only val/test videos were
verified, the per-subset rows show whether train's estimate parts from the others.
"""

import logging
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction

from curation.models import (
    AggregationRun,
    Dataset,
    ModelRun,
    NoiseEstimate,
    Split,
    SplitMember,
    Video,
    VideoScore,
    VideoVerdict,
)
from curation.selectors_labels import aggregation_run_latest
from curation.services.labels.noise import (
    JUDGED,
    NoiseEstimateError,
    noise_bias,
    noise_estimate_history,
    noise_estimate_latest,
    stamp_batch,
)
from ml.calibration import CalibrationError, bootstrap_intervals, calibrate
from ml.verdicts import PENDING, VERIFIED

logger = logging.getLogger("microcurate.noise")
INTERVAL = "bootstrap"
N_BOOT = 1000


@dataclass
class ModelNoiseSummary:
    run: ModelRun
    calibrated_on: AggregationRun
    calibration: str  # platt or isotonic
    log_loss: dict  # held-out, by calibrator
    estimates: list = field(default_factory=list)

    def __str__(self) -> str:
        whole = next((e for e in self.estimates if e.scope == NoiseEstimate.Scope.EXTRAPOLATION), None)
        losses = ", ".join(f"{m} {v:.3f}" for m, v in self.log_loss.items())
        head = (
            f"model {self.run.version}, calibrated ({self.calibration}; held-out log-loss {losses}) on "
            f"{whole.n} judged videos of the {self.calibrated_on.method} verdicts ({whole.noisy} noise)"
        )
        return (
            f"{head}: of the {whole.population} unverified videos {whole.rate:.1%} are probably noise "
            f"(95 % CI {whole.low:.1%}–{whole.high:.1%}, {whole.expected_low}–{whole.expected_high} videos)"
        )


def model_method(run: ModelRun) -> str:
    return f"model-run-{run.id}"


def _run(dataset: Dataset, run: ModelRun | None) -> ModelRun:
    from curation.services.modelling.scoring import model_run_latest

    if run is None:
        run = model_run_latest(dataset)
        if run is None:
            raise NoiseEstimateError(
                f"dataset {dataset.slug} has no finished model run to estimate noise with"
            )
    elif run.dataset_id != dataset.id or run.status != ModelRun.Status.DONE:
        raise NoiseEstimateError(f"model run {run.version} is not a finished run of dataset {dataset.slug}")
    return run


def _unverified_groups(dataset: Dataset, ids: np.ndarray) -> dict[str, list[str]]:
    """Per unverified video (in `ids` order): its weak topic's name and its subset of the latest
    frozen split ("name/subset"; "" when in none)."""
    topic_of = dict(
        Video.objects.filter(dataset=dataset, weak_topic__isnull=False).values_list("id", "weak_topic__name")
    )
    groups = {"topic": [topic_of.get(int(v), "") for v in ids]}
    split = (
        Split.objects.filter(dataset=dataset, frozen_at__isnull=False).order_by("-frozen_at", "-id").first()
    )
    if split is not None:
        subset_of = dict(
            SplitMember.objects.filter(split=split).exclude(subset="").values_list("video_id", "subset")
        )
        groups["split"] = [f"{split.name}/{subset_of[v]}" if v in subset_of else "" for v in ids.tolist()]
    return groups


def noise_estimates_model(
    *, dataset: Dataset, run: ModelRun | None = None, n_boot: int = N_BOOT, seed: int = 0
) -> ModelNoiseSummary:
    """Calibrate the run's (default: the latest finished one's) weak-topic probabilities on the
    latest human verdicts and record the model's estimates for the unverified videos."""
    run = _run(dataset, run)
    human = aggregation_run_latest(dataset=dataset)
    if human is None:
        raise NoiseEstimateError(
            f"dataset {dataset.slug} has no human verdicts to calibrate model {run.version} on "
            "(aggregate the answers first)"
        )
    scores = VideoScore.objects.filter(model_run=run, weak_topic_probability__isnull=False)
    scored = np.array(
        list(scores.order_by("video_id").values_list("video_id", "weak_topic_probability")), dtype=float
    )
    if not scored.size:
        raise NoiseEstimateError(f"model {run.version} has scored no video of dataset {dataset.slug}")
    ids, p = scored[:, 0].astype(np.int64), scored[:, 1]
    labels = dict(
        VideoVerdict.objects.filter(dataset=dataset, method=human.method).values_list("video_id", "label")
    )
    label = np.array([labels.get(v, "") for v in ids.tolist()], dtype=object)
    judged = np.isin(label, JUDGED)
    unverified = (label == "") | (label == PENDING)
    if not unverified.any():
        raise NoiseEstimateError(f"dataset {dataset.slug}: every scored video has a human verdict")
    y = (label[judged] == VERIFIED).astype(int)
    where = f"dataset {dataset.slug}, model {run.version}, {human.method} verdicts"
    try:
        calibrator = calibrate(p[judged], y, seed=seed)
        intervals = bootstrap_intervals(
            p[judged], y, p[unverified], groups=_unverified_groups(dataset, ids[unverified]), n_boot=n_boot,
            seed=seed, method=calibrator.method,
        )  # fmt: skip
    except CalibrationError as exc:
        raise NoiseEstimateError(f"{where}: {exc}") from None
    scope_of = {"all": NoiseEstimate.Scope.EXTRAPOLATION, "topic": NoiseEstimate.Scope.TOPIC,
                "split": NoiseEstimate.Scope.SPLIT}  # fmt: skip
    rows = [
        NoiseEstimate(
            dataset=dataset,
            estimator=NoiseEstimate.Estimator.MODEL,
            method=model_method(run),
            scope=scope_of[scope],
            key=key,
            noisy=e.noisy_calibration,
            n=e.n_calibration,
            rate=e.rate,
            low=e.low,
            high=e.high,
            interval=INTERVAL,
            confidence=e.confidence,
            population=e.population,
            expected_low=e.low_noisy,
            expected_high=e.high_noisy,
            run=human,
        )  # fmt: skip
        for (scope, key), e in intervals.items()
    ]
    with transaction.atomic():
        created = stamp_batch(NoiseEstimate.objects.bulk_create(rows))
    summary = ModelNoiseSummary(run, human, calibrator.method, dict(calibrator.log_loss), created)
    logger.info("dataset %s: %s", dataset.slug, summary)
    return summary


def noise_estimates_model_refresh(*, dataset: Dataset, run: ModelRun | None) -> ModelNoiseSummary | None:
    """After scoring or an aggregation: the model's estimates when they can be made, else None
    with the reason logged (no finished run, no human verdicts yet, too few of them), so a
    dataset that nobody has verified yet still scores."""
    if run is None:
        return None
    try:
        return noise_estimates_model(dataset=dataset, run=run)
    except NoiseEstimateError as exc:
        logger.info("no model noise estimate: %s", exc)
        return None


def noise_estimate_model_run(estimates: list[NoiseEstimate]) -> ModelRun | None:
    """The ModelRun a batch of model estimates came from (their method names it)."""
    methods = {e.method for e in estimates if e.estimator == NoiseEstimate.Estimator.MODEL}
    ids = [int(m.removeprefix("model-run-")) for m in methods if m.removeprefix("model-run-").isdigit()]
    return ModelRun.objects.filter(id__in=ids).defer("state").order_by("-id").first() if ids else None


def noise_report(dataset: Dataset) -> dict:
    """The human estimates (latest batch) with their bias, the model's beside them, and the
    dataset-wide history: what the noise endpoint returns."""
    latest = noise_estimate_latest(dataset)
    model = noise_estimate_latest(dataset, estimator=NoiseEstimate.Estimator.MODEL)
    return {
        "latest": latest,
        "bias": noise_bias(latest),
        "model": model,
        "model_run": noise_estimate_model_run(model),
        "history": noise_estimate_history(dataset),
    }
