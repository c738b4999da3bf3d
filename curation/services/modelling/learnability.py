"""Learnability (MV-58K, Fig. 2): each topic's AP against the log of its number of training
examples, from a ModelRun's per-topic metrics, and the topics the model cannot learn.

MV-58K found "stopword" tags (#revine, #lol) whose AP sits at chance however many examples they
have: no amount of labelling makes them recognisable, so a curator should merge, rename or drop
them rather than spend answers on them. A topic is listed as unlearnable when the run's own
evaluation said so (status "unlearnable": AP within ml.metrics.UNLEARNABLE_MARGIN of its prevalence,
the AP of a random ranking), or when its AP is within `margin` of chance with at least `min_train`
training examples — the same test, so a caller can ask for a wider margin than the one the run
was evaluated with. Topics with too few training examples, or no positive in the evaluation
subset, have no AP and are never called unlearnable: there is nothing to tell yet.

Pure reading of ModelRun.metrics, and no numpy (ml.metrics brings it; its constants are read
when called), so the admin and the API can import this at every start-up.
"""

import math

from curation.errors import ModelNotFound
from curation.models import Dataset, ModelRun

ROUND = 4


def _run(dataset: Dataset, run: ModelRun | int | None) -> ModelRun | None:
    from curation.services.modelling.scoring import model_run_latest

    if run is None:
        return model_run_latest(dataset)
    run_id = run.id if isinstance(run, ModelRun) else run
    found = ModelRun.objects.filter(id=run_id, dataset=dataset, status=ModelRun.Status.DONE).defer("state")
    chosen = found.first()
    if chosen is None:
        raise ModelNotFound(f"dataset {dataset.slug} has no finished model run {run_id}")
    return chosen


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), ROUND)


def _trend(points: list[tuple[float, float]]) -> dict | None:
    """Least-squares line AP = slope · log10(n_train) + intercept over the topics with an AP: a
    learnable taxonomy rises with its examples; a flat line says more labels will not help."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    return {"slope": _rounded(slope), "intercept": _rounded(mean_y - slope * mean_x), "topics": n}


def _reason(ap: float | None, prevalence: float, n_train: int, margin: float) -> str:
    if ap is None:  # a run's verdict without its AP (never written so, but said plainly if it is)
        return f"the run's evaluation called it unlearnable with {n_train} training examples"
    return (
        f"AP {ap:.3f} is within {margin:.2f} of chance (its prevalence {prevalence:.3f}) "
        f"with {n_train} training examples"
    )


def learnability(
    *,
    dataset: Dataset,
    run: ModelRun | int | None = None,
    margin: float | None = None,
    min_train: int | None = None,
) -> dict:
    """Per topic (AP, log10 training examples) of `run` (default: the dataset's latest finished
    ModelRun) and the unlearnable topics; {"run": None, "topics": [], "unlearnable": []} when the
    dataset has no finished run (not an error: nothing is trained yet). `margin` and `min_train`
    default to ml.metrics' UNLEARNABLE_MARGIN and MIN_TRAIN, the ones training evaluated with."""
    from ml.metrics import MIN_TRAIN, UNLEARNABLE_MARGIN

    margin = UNLEARNABLE_MARGIN if margin is None else float(margin)
    min_train = MIN_TRAIN if min_train is None else int(min_train)
    if not 0 <= margin < 1:
        raise ValueError(f"the unlearnable margin must lie in [0, 1), not {margin}")
    chosen = _run(dataset, run)
    if chosen is None:
        return {"run": None, "topics": [], "unlearnable": []}
    metrics = chosen.metrics or {}
    topics, unlearnable, points = [], [], []
    for row in metrics.get("per_topic", []):
        n_train = int(row.get("n_train") or 0)
        ap, prevalence = row.get("ap"), float(row.get("prevalence") or 0.0)
        log_n = math.log10(n_train) if n_train > 0 else None
        above = None if ap is None else ap - prevalence
        near_chance = above is not None and above < margin and n_train >= min_train
        flagged = row.get("status") == "unlearnable" or near_chance
        topic = {
            "topic": row.get("topic"),
            "name": row.get("name", str(row.get("index"))),
            "n_train": n_train,
            "log10_n_train": _rounded(log_n),
            "ap": _rounded(ap),
            "prevalence": _rounded(prevalence),
            "ap_above_chance": _rounded(above),
            "status": row.get("status"),
            "unlearnable": flagged,
        }
        topics.append(topic)
        if ap is not None and log_n is not None:
            points.append((log_n, float(ap)))
        if flagged:
            unlearnable.append(
                {
                    "topic": topic["topic"],
                    "name": topic["name"],
                    "n_train": n_train,
                    "ap": topic["ap"],
                    "prevalence": topic["prevalence"],
                    "reason": _reason(ap, prevalence, n_train, margin),
                }
            )
    return {
        "run": chosen.id,
        "model_version": chosen.version,
        "finished_at": chosen.finished_at.isoformat() if chosen.finished_at else None,
        "subset": metrics.get("per_topic_subset"),
        "margin": margin,
        "min_train": min_train,
        "refused": metrics.get("refused") or None,
        "topics": topics,
        "trend": _trend(points),
        "unlearnable": unlearnable,
    }
